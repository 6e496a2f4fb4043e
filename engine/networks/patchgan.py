"""70 x 70 PatchGAN discriminator in the style of the reference CycleGAN (``NLayerDiscriminator``).

Layers (``w = base_width``; 4x4 convolutions, LeakyReLU 0.2, InstanceNorm without affine):
conv ``w`` stride 2 (no norm); for ``n = 1 .. n_layers - 1``: conv ``min(2**n, 8) w`` stride 2 + IN;
conv ``min(2**n_layers, 8) w`` stride 1 + IN; conv to 1 channel stride 1. With ``n_layers = 3`` each
output score sees a 70 x 70 input patch; the map is 30 x 30 at 256 and 62 x 62 at 512.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.networks._checks import image_batch, positive_int
from engine.networks.instance_norm import InstanceNorm2d


class PatchGANDiscriminator(nn.Module):
    """``(B, in_channels, H, W)`` -> ``(B, 1, h, w)`` raw patch scores (for the least-squares loss).

    ``h = H / 2**n_layers - 2`` for ``H`` divisible by ``2**n_layers`` (likewise ``w``); inputs must
    be at least ``2**n_layers * 3`` on each side.

    Args:
        in_channels: image channels.
        base_width: channels of the first layer (reference: 64).
        n_layers: stride-2 layers (reference: 3, giving 70 x 70 receptive fields).
    """

    def __init__(self, *, in_channels: int = 1, base_width: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        positive_int("base_width", base_width)
        self.n_layers = positive_int("n_layers", n_layers)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_width, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        channels = base_width
        for n in range(1, n_layers + 1):
            width = min(2**n, 8) * base_width
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(channels, width, kernel_size=4, stride=stride, padding=1),
                InstanceNorm2d(width),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = width
        layers.append(nn.Conv2d(channels, 1, kernel_size=4, stride=1, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, 1, H/2**n_layers - 2, W/2**n_layers - 2)``."""
        image_batch(
            x,
            channels=self.in_channels,
            multiple=2**self.n_layers,
            minimum=3 * 2**self.n_layers,
            network="PatchGAN discriminator",
        )
        return self.layers(x)
