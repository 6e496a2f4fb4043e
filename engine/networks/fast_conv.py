"""A ``Conv2d`` whose CPU inference runs on NNPACK's fast-convolution kernels where they pay off.

Why: the paper generator at 512 x 512 spends most of its convolution time in the 18 residual 3x3
convolutions (256 channels at 128 x 128, 348 of its 547 GFLOP). oneDNN computes them directly at
about the matrix-product peak of these CPUs. NNPACK, which ships inside PyTorch, chooses a fast
algorithm per layer (Winograd F(6x6, 3x3) for 3x3 kernels: about a fifth of the multiplications;
FFT for larger kernels): it runs those layers and the final 7x7 convolution to one channel in
about half the time (benchmarks/bench_generator.py times the whole generator both ways; figures
in docs/benchmarks.md, "Measurements behind choices in the code"). At small feature maps
NNPACK's transforms cost more than they save, so each layer says from how many output pixels on
it uses NNPACK.

The result is the same convolution up to float32 rounding: relative RMS error about 5e-6 against
the direct convolution for the 256-channel 3x3 layer (tests/engine/networks/test_fast_conv.py
checks layers and a whole generator against the direct path).

NNPACK is used only when all of these hold, otherwise the layer is an ordinary ``nn.Conv2d``:
no gradient is needed, input and weights are float32 on the CPU, stride 1, dilation 1, one group,
zero padding, PyTorch was built with NNPACK (not on Windows) and ``CXR_EXPLAIN_NNPACK`` is not
``0``. The first NNPACK failure (for example out of memory, or a changed signature of the private
function in another PyTorch version) logs one warning and turns NNPACK off for the process, so a
failure costs speed, never a result.

NNPACK needs a workspace that grows with the size of the call (173 MiB for the generator's output
7x7 convolution at 512 x 512, 181 MiB for its last upsampling layer). ``nnpack_band_pixels``
bounds it: the output is then computed in bands of whole rows, each from its rows of the input
plus the kernel's halo (the same numbers; the halo rows are computed twice, a few percent of the
layer). Measured with the paper generator at 512 (bands of 256 x 256 output pixels): peak memory
0.97 -> 0.80 GiB with the benchmark's tuned allocator, at the same speed.

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


def _cpu_float_inference(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``x`` and ``weight`` are float32 CPU tensors and no gradient is needed."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 4:
        return False
    if weight.device.type != "cpu" or weight.dtype != torch.float32:
        return False
    return not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))


def _nnpack_convolution(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: list[int]
) -> torch.Tensor | None:
    """NNPACK's stride-1 convolution, or ``None`` after its first failure (then off for good)."""
    try:
        return torch._nnpack_spatial_convolution(x, weight, bias, padding, [1, 1])
    except (RuntimeError, TypeError) as error:  # NNPACK failed, or the private API changed
        _disable_nnpack(error)
        return None


def _row_bands(rows: int, rows_per_band: int) -> list[tuple[int, int]]:
    """``[start, stop)`` row ranges of at most ``rows_per_band`` rows covering ``range(rows)``."""
    return [(start, min(start + rows_per_band, rows)) for start in range(0, rows, rows_per_band)]


def _nnpack_band(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    padding: list[int],
    rows: tuple[int, int],
) -> torch.Tensor | None:
    """Output rows ``[start, stop)`` of the stride-1 convolution of all of ``x``.

    Output row ``o`` reads input rows ``o - p`` to ``o - p + k - 1`` (``p`` the row padding, ``k``
    the kernel height). The band's input slice starts at ``a = max(start - p, 0)``; the slice's
    output row ``j`` is then output row ``a + j``, and its zero padding stands only where the whole
    input's would (above row 0, below the last row), because the slice holds every row that the
    kept output rows read.
    """
    start, stop = rows
    padding_rows, kernel_rows = padding[0], weight.shape[2]
    first = max(start - padding_rows, 0)
    last = min(stop - padding_rows + kernel_rows - 1, x.shape[2])
    result = _nnpack_convolution(x[:, :, first:last], weight, bias, padding)
    return None if result is None else result[:, :, start - first : stop - first]


def _rows_per_band(band_pixels: int, out_rows: int, out_width: int) -> int:
    """Output rows per band for about ``band_pixels`` pixels per channel (0: one band)."""
    return out_rows if band_pixels == 0 else max(1, band_pixels // out_width)


class _NnpackOptions:
    """The NNPACK options both layer classes take besides their ``nn`` base's arguments."""

    def __init__(
        self,
        *args: object,
        nnpack_min_pixels: int = 0,
        nnpack_band_pixels: int = 0,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.nnpack_min_pixels = positive_int("nnpack_min_pixels", nnpack_min_pixels, minimum=0)
        self.nnpack_band_pixels = positive_int("nnpack_band_pixels", nnpack_band_pixels, minimum=0)


class FastCpuConv2d(_NnpackOptions, nn.Conv2d):
    """``nn.Conv2d`` (same parameters, same state-dict keys) with NNPACK CPU inference.

    Args (besides those of ``nn.Conv2d``):
        nnpack_min_pixels: use NNPACK only when the output has at least this many pixels per
            channel (height x width); below it the direct convolution is faster.
        nnpack_band_pixels: compute the output in bands of whole rows of about this many pixels
            per channel, to bound NNPACK's workspace (0: in one call).
    """

    def _nnpack_applies(self, x: torch.Tensor) -> bool:
        if not _cpu_float_inference(x, self.weight):
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
            result = self._nnpack_forward(x)
            if result is not None:
                return result
        return super().forward(x)

    def _nnpack_forward(self, x: torch.Tensor) -> torch.Tensor | None:
        padding = [int(p) for p in self.padding]  # a tuple here: _nnpack_applies checked it
        out_rows = x.shape[2] + 2 * padding[0] - self.kernel_size[0] + 1
        out_width = x.shape[3] + 2 * padding[1] - self.kernel_size[1] + 1
        rows_per_band = _rows_per_band(self.nnpack_band_pixels, out_rows, out_width)
        if rows_per_band >= out_rows:
            return _nnpack_convolution(x, self.weight, self.bias, padding)
        out = x.new_empty(x.shape[0], self.out_channels, out_rows, out_width)
        for rows in _row_bands(out_rows, rows_per_band):
            band = _nnpack_band(x, self.weight, self.bias, padding, rows)
            if band is None:
                return None
            out[:, :, rows[0] : rows[1]] = band
        return out


#: Sub-pixel phases of a 3x3, stride-2, padding-1 transposed convolution: output row ``2 i + p``
#: takes input row ``i + d`` through kernel row ``p + 1 - 2 d`` (when that is 0, 1 or 2).
_SUBPIXEL_TAPS = tuple(
    (phase, offset + 1, phase + 1 - 2 * offset)
    for phase in (0, 1)
    for offset in (-1, 0, 1)
    if 0 <= phase + 1 - 2 * offset <= 2
)


def subpixel_weights(
    weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A 3x3/stride-2/padding-1 transposed convolution as a 3x3 convolution plus pixel shuffle.

    ``weight`` ``(C_in, C_out, 3, 3)`` (``nn.ConvTranspose2d`` layout) -> ``(4 C_out, C_in, 3, 3)``
    whose output channel ``4 c + 2 p_y + p_x`` is output channel ``c`` at the pixels
    ``(2 i + p_y, 2 j + p_x)``, the order ``pixel_shuffle(·, 2)`` expects. A quarter of the
    transposed taps go to each phase, the others are zero.
    """
    in_channels, out_channels = weight.shape[:2]
    transposed = weight.detach().permute(1, 0, 2, 3)  # (C_out, C_in, ky, kx)
    combined = weight.new_zeros(out_channels, 2, 2, in_channels, 3, 3)
    for phase_y, row, kernel_row in _SUBPIXEL_TAPS:
        for phase_x, column, kernel_column in _SUBPIXEL_TAPS:
            combined[:, phase_y, phase_x, :, row, column] = transposed[
                :, :, kernel_row, kernel_column
            ]
    combined_bias = None if bias is None else bias.detach().repeat_interleave(4)
    return combined.reshape(4 * out_channels, in_channels, 3, 3).contiguous(), combined_bias


class FastCpuConvTranspose2d(_NnpackOptions, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (same parameters and keys) with NNPACK CPU inference for the
    generator's upsampling layers (3x3 kernel, stride 2, padding 1, output padding 1).

    Such a layer equals a 3x3 convolution of its input to four times the channels, one per output
    pixel phase, followed by ``pixel_shuffle(·, 2)`` (see :func:`subpixel_weights`). That
    convolution runs on NNPACK's Winograd kernels; the rearranged weights are kept until the
    parameters change (in-place updates and ``load_state_dict`` included). Any other configuration,
    training, other devices or dtypes, and ``output_size`` use ``nn.ConvTranspose2d``.

    Args (besides those of ``nn.ConvTranspose2d``):
        nnpack_min_pixels: use NNPACK only when the input has at least this many pixels per
            channel (height x width); below it the direct transposed convolution is faster.
        nnpack_band_pixels: compute the output in bands of whole rows of about this many pixels
            per channel, to bound NNPACK's workspace (0: in one call).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._subpixel_cache: tuple[tuple[object, ...], torch.Tensor, torch.Tensor | None] | None
        self._subpixel_cache = None

    def _nnpack_applies(self, x: torch.Tensor) -> bool:
        if not _cpu_float_inference(x, self.weight):
            return False
        shape_is_upsampling = (
            self.kernel_size == (3, 3)
            and self.stride == (2, 2)
            and self.padding == (1, 1)
            and self.output_padding == (1, 1)
            and self.dilation == (1, 1)
            and self.groups == 1
            and self.padding_mode == "zeros"
        )
        if not shape_is_upsampling or x.shape[2] * x.shape[3] < self.nnpack_min_pixels:
            return False
        return nnpack_usable()

    def _subpixel_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        # A parameter's _version counts its in-place changes (optimiser steps, load_state_dict).
        key: tuple[object, ...] = (self.weight.data_ptr(), self.weight._version)
        if self.bias is not None:
            key += (self.bias.data_ptr(), self.bias._version)
        if self._subpixel_cache is None or self._subpixel_cache[0] != key:
            with torch.no_grad():
                self._subpixel_cache = (key, *subpixel_weights(self.weight, self.bias))
        return self._subpixel_cache[1], self._subpixel_cache[2]

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is None and self._nnpack_applies(x):
            result = self._nnpack_forward(x)
            if result is not None:
                return result
        return super().forward(x, output_size)

    def _nnpack_forward(self, x: torch.Tensor) -> torch.Tensor | None:
        weight, bias = self._subpixel_parameters()
        batch, _, rows, width = x.shape
        channels = self.out_channels
        # Each input row gives two output rows of twice the width.
        rows_per_band = max(1, _rows_per_band(self.nnpack_band_pixels, 2 * rows, 2 * width) // 2)
        out = x.new_empty(batch, channels, 2 * rows, 2 * width)
        for start, stop in _row_bands(rows, rows_per_band):
            phases = _nnpack_band(x, weight, bias, [1, 1], (start, stop))
            if phases is None:
                return None
            # The pixel shuffle, written straight into the output: phase (p_y, p_x) of input
            # pixel (i, j) is output pixel (2 i + p_y, 2 j + p_x). Several times faster than
            # pixel_shuffle into a fresh tensor (docs/benchmarks.md).
            band_rows = stop - start
            target = out[:, :, 2 * start : 2 * stop].view(batch, channels, band_rows, 2, width, 2)
            shuffled = phases.reshape(batch, channels, 2, 2, band_rows, width)
            target.copy_(shuffled.permute(0, 1, 4, 2, 5, 3))
        return out
