"""FIGAN's conditional critic: a projection discriminator (Miyato & Koyama 2018).

``D(x, c) = w . phi(x) + b + <E c, phi(x)>``: ``phi`` is a ResNet down-sampling feature extractor
(pre-activation blocks, average pooling, spectral normalisation on every weight), summed over
space; ``E`` is a linear projection of the *continuous* condition (the PLS scores) into the same
space. The inner product makes the critic judge whether image and condition belong together, not
only whether the image looks real, which is what forces the generator to honour the condition.

``log2(size / 4)`` blocks take ``size`` down to ``4 x 4``; channels after block ``i`` are
``min(base_width * 2**i, max_width)``. The output is one unbounded score per image (hinge loss).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from engine.networks._checks import flag, image_batch, positive_int
from engine.networks.conditional_generator import SIZES


class DownBlock(nn.Module):
    """Residual block that halves the resolution; ``preactivate=False`` for the first block."""

    def __init__(self, in_channels: int, out_channels: int, *, preactivate: bool, sn: bool) -> None:
        super().__init__()

        def wrap(module: nn.Module) -> nn.Module:
            return spectral_norm(module) if sn else module

        self.preactivate = preactivate
        self.conv1 = wrap(nn.Conv2d(in_channels, out_channels, 3, padding=1))
        self.conv2 = wrap(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.shortcut = wrap(nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivate else x
        h = self.conv2(F.relu(self.conv1(h)))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.shortcut(x), 2)


class ProjectionDiscriminator(nn.Module):
    """``(image (B, in_channels, size, size), condition (B, n_conditions)) -> scores (B,)``.

    Args:
        n_conditions: length of the condition vector.
        size: input side, one of 8, 16, ..., 512.
        base_width: channels after the first block.
        max_width: channel cap.
        in_channels: image channels.
        spectral: spectral normalisation on every weight (recommended with the hinge loss).
    """

    def __init__(
        self,
        *,
        n_conditions: int = 4,
        size: int = 64,
        base_width: int = 16,
        max_width: int = 128,
        in_channels: int = 1,
        spectral: bool = True,
    ) -> None:
        super().__init__()
        self.n_conditions = positive_int("n_conditions", n_conditions)
        positive_int("size", size)
        if size not in SIZES:
            raise ValueError(f"size must be one of {list(SIZES)}, got {size}")
        positive_int("base_width", base_width)
        positive_int("max_width", max_width)
        self.in_channels = positive_int("in_channels", in_channels)
        sn = flag("spectral", spectral)
        self.size = size
        n_down = size.bit_length() - 3
        widths = [min(base_width * 2**level, max_width) for level in range(n_down)]
        blocks = []
        channels = in_channels
        for level, width in enumerate(widths):
            blocks.append(DownBlock(channels, width, preactivate=level > 0, sn=sn))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        linear = nn.Linear(channels, 1)
        embed = nn.Linear(n_conditions, channels, bias=False)
        self.linear = spectral_norm(linear) if sn else linear
        self.embed = spectral_norm(embed) if sn else embed

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``(B, C, size, size), (B, n_conditions)`` -> ``(B,)`` realness scores."""
        image_batch(
            x, channels=self.in_channels, minimum=self.size, network="projection discriminator"
        )
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(
                f"projection discriminator expects {self.size}x{self.size} images, "
                f"got {tuple(x.shape[-2:])}"
            )
        if condition.shape != (x.shape[0], self.n_conditions):
            raise ValueError(
                f"projection discriminator expects a condition of shape ({x.shape[0]}, "
                f"{self.n_conditions}), got {tuple(condition.shape)}"
            )
        features = F.relu(self.blocks(x)).sum(dim=(2, 3))
        projection = (self.embed(condition) * features).sum(dim=1)
        return self.linear(features).squeeze(1) + projection
