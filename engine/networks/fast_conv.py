"""A ``Conv2d`` whose CPU inference runs on NNPACK's fast-convolution kernels where they pay off.

Why: the paper generator at 512 x 512 spends most of its convolution time in the 18 residual 3x3
convolutions (256 channels at 128 x 128, 348 of its 547 GFLOP). oneDNN computes them directly at
about the matrix-product peak of these CPUs. NNPACK, which ships inside PyTorch, chooses a fast
algorithm per layer (Winograd F(6x6, 3x3) for 3x3 kernels: about a fifth of the multiplications;
FFT for larger kernels): it ran those layers in 63-82 ms against 137-157 ms, and the final 7x7
convolution to one channel in 18 ms against 51 ms at 256 x 256 (2 cores, AMD EPYC;
benchmarks/bench_generator.py times the whole generator both ways). At small feature maps
NNPACK's transforms cost more than they save (32 x 32 x 256: 12.4 ms against 10.5 ms), so each
layer says from how many output pixels on it uses NNPACK.

The result is the same convolution up to float32 rounding: relative RMS error about 5e-6 against
the direct convolution for the 256-channel 3x3 layer (tests/engine/networks/test_fast_conv.py
checks layers and a whole generator against the direct path).

NNPACK is used only when all of these hold, otherwise the layer is an ordinary ``nn.Conv2d``:
no gradient is needed, input and weights are float32 on the CPU, stride 1, dilation 1, one group,
zero padding, PyTorch was built with NNPACK (not on Windows) and ``CXR_EXPLAIN_NNPACK`` is not
``0``. The first NNPACK failure (for example out of memory, or a changed signature of the private
function in another PyTorch version) logs one warning and turns NNPACK off for the process, so a
failure costs speed, never a result.

``torch._nnpack_spatial_convolution`` is a private PyTorch function: its presence is checked, and
``torch._nnpack_available()`` must run first because it is what initialises NNPACK. NNPACK makes
its thread pool once, with ``torch.get_num_threads()`` threads at its first use.
"""

from __future__ import annotations

import logging
import os
import threading

import torch
from torch import nn

from engine.networks._checks import positive_int

logger = logging.getLogger(__name__)

#: Set to ``0`` to keep every convolution on PyTorch's default (oneDNN) path.
ENV_SWITCH = "CXR_EXPLAIN_NNPACK"

_state_lock = threading.Lock()
_nnpack_usable: bool | None = None  # None: not yet checked in this process


def nnpack_usable() -> bool:
    """Whether NNPACK can run here (checked once per process; initialises NNPACK)."""
    global _nnpack_usable
    known = _nnpack_usable  # every convolution asks: answer without the lock once decided
    if known is not None:
        return known
    with _state_lock:
        if _nnpack_usable is None:
            _nnpack_usable = (
                os.environ.get(ENV_SWITCH, "1").strip() != "0"
                and hasattr(torch, "_nnpack_spatial_convolution")
                and bool(torch._nnpack_available())
            )
        return _nnpack_usable


def _disable_nnpack(error: Exception) -> None:
    global _nnpack_usable
    with _state_lock:
        if _nnpack_usable:
            logger.warning("NNPACK convolution failed, using the default path: %s", error)
        _nnpack_usable = False


class FastCpuConv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, same state-dict keys) with NNPACK CPU inference.

    Args (besides those of ``nn.Conv2d``):
        nnpack_min_pixels: use NNPACK only when the output has at least this many pixels per
            channel (height x width); below it the direct convolution is faster.
    """

    def __init__(self, *args: object, nnpack_min_pixels: int = 0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.nnpack_min_pixels = positive_int("nnpack_min_pixels", nnpack_min_pixels, minimum=0)

    def _nnpack_applies(self, x: torch.Tensor) -> bool:
        weight = self.weight
        if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 4:
            return False
        if weight.device.type != "cpu" or weight.dtype != torch.float32:
            return False
        if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
            return False
        if self.stride != (1, 1) or self.dilation != (1, 1) or self.groups != 1:
            return False
        if self.padding_mode != "zeros" or isinstance(self.padding, str):  # "same" / "valid"
            return False
        out_height = x.shape[2] + 2 * self.padding[0] - self.kernel_size[0] + 1
        out_width = x.shape[3] + 2 * self.padding[1] - self.kernel_size[1] + 1
        if out_height < 1 or out_width < 1 or out_height * out_width < self.nnpack_min_pixels:
            return False
        return nnpack_usable()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._nnpack_applies(x):
            padding = [int(p) for p in self.padding]  # a tuple here: _nnpack_applies checked it
            try:
                return torch._nnpack_spatial_convolution(x, self.weight, self.bias, padding, [1, 1])
            except (RuntimeError, TypeError) as error:  # NNPACK failed, or the private API changed
                _disable_nnpack(error)
        return super().forward(x)
