"""An ``InstanceNorm2d`` computed on the CPU by PyTorch's group-norm kernel, one group per channel.

Why: instance normalisation of a batched ``(B, C, H, W)`` tensor is group normalisation with ``C``
groups (per sample and channel: subtract the mean over ``H x W``, divide by the biased standard
deviation plus ``eps``, then the optional per-channel scale and shift). PyTorch computes both, but
its CPU instance norm goes through the batch-norm kernels on a reshaped tensor, which are much
slower than the group-norm kernel for these shapes, forward and backward (figures in
docs/benchmarks.md, "Measurements behind choices in the code"). Results agree to float32 rounding
(tests/engine/networks/test_instance_norm.py).

The group-norm path is taken for batched 4-D CPU input with the layer's channel count when the
layer keeps no running statistics (the default, and what every network here uses); anything else
is ``nn.InstanceNorm2d`` unchanged. Parameters and state-dict keys are those of
``nn.InstanceNorm2d``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` (same arguments, parameters and keys), faster on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.device.type == "cpu"
            and x.dim() == 4
            and x.shape[1] == self.num_features
            and not self.track_running_stats
        ):
            return functional.group_norm(x, self.num_features, self.weight, self.bias, self.eps)
        return super().forward(x)
