"""The paper's VGG-like discriminator (Table 2) and the choice of discriminator kind.

Layers (``w = base_width``, 64 in the paper; each conv 3x3, stride 1, padding 1, BatchNorm, ReLU):
``w, w``, max-pool 2, ``2w, 2w``, max-pool 2, ``4w x 3``, max-pool 2, ``8w x 3``, max-pool 2,
``8w x 3``, then a final 3x3 convolution to one channel *without padding*. At input size ``S`` the
output is a ``(S/16 - 2) x (S/16 - 2)`` map of patch scores: 30 x 30 at 512, as the paper states.

Deviation: the table lists BatchNorm + ReLU on the final one-channel layer too. We leave both out:
the least-squares GAN loss wants an unbounded real score per patch; ReLU would clamp every "fake"
score at 0 and kill its gradient, and BatchNorm over one channel would fix the scores' mean.
"""

from __future__ import annotations

from enum import StrEnum

import torch
from torch import nn

from engine.networks._checks import image_batch, positive_int

#: Input height and width must be multiples of this (four 2x2 max-pools).
SIZE_MULTIPLE = 16

# (width multiplier, convolutions) per stage; a 2x2 max-pool follows every stage but the last.
_STAGES = ((1, 2), (2, 2), (4, 3), (8, 3), (8, 3))


class DiscriminatorKind(StrEnum):
    """Which discriminator a CycleGAN trains with."""

    PAPER = "paper"  # Table 2 VGG-like, BatchNorm + ReLU, (S/16 - 2)^2 patches
    PATCHGAN = "patchgan"  # reference CycleGAN 70 x 70 PatchGAN, InstanceNorm + LeakyReLU


class PaperDiscriminator(nn.Module):
    """VGG-like patch critic: ``(B, in_channels, S_h, S_w)`` -> ``(B, 1, S_h/16-2, S_w/16-2)``.

    Output values are raw scores (logits for the least-squares GAN loss, no activation). Height and
    width must be multiples of 16 and at least 48.

    Args:
        in_channels: image channels.
        base_width: channels of the first stage (paper: 64); stages have 1, 2, 4, 8, 8 times it.
    """

    def __init__(self, *, in_channels: int = 1, base_width: int = 64) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        positive_int("base_width", base_width)
        layers: list[nn.Module] = []
        channels = in_channels
        for index, (multiplier, n_convs) in enumerate(_STAGES):
            if index > 0:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            for _ in range(n_convs):
                width = multiplier * base_width
                layers += [
                    nn.Conv2d(channels, width, kernel_size=3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
                channels = width
        layers.append(nn.Conv2d(channels, 1, kernel_size=3, padding=0))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, 1, H/16 - 2, W/16 - 2)`` patch scores."""
        image_batch(
            x,
            channels=self.in_channels,
            multiple=SIZE_MULTIPLE,
            minimum=48,
            network="discriminator",
        )
        return self.layers(x)


def output_size(input_size: int) -> int:
    """Side of the paper discriminator's patch map for an input side ``input_size``."""
    return input_size // SIZE_MULTIPLE - 2
