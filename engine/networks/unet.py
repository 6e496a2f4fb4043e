"""U-Net lung-field segmenter (Ronneberger et al. 2015), sized for CPU inference.

Encoder: ``depth`` levels of two 3x3 convolutions (BatchNorm, ReLU) each followed by a 2x2
max-pool, widths ``base_width * 2**level``; a bottleneck of ``base_width * 2**depth``; decoder: 2x2
transposed convolution up, concatenation with the skip connection, two 3x3 convolutions; a 1x1
convolution to ``out_channels`` logits.

Channel meaning: ``out_channels=2`` gives channel 0 = the lung on the image's left (the patient's
right lung in a PA view) and channel 1 = the lung on the image's right; ``out_channels=1`` gives the
whole lung field. The outputs are independent per-channel logits;
:meth:`UNet.predict_probabilities` applies the sigmoid.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.networks._checks import image_batch, positive_int


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """``(B, in_channels, H, W)`` in ``[-1, 1]`` -> ``(B, out_channels, H, W)`` logits.

    ``H`` and ``W`` must be divisible by ``2**depth``.

    Args:
        in_channels: image channels (1 = grayscale radiograph).
        out_channels: 2 = left/right lung masks, 1 = lung field.
        base_width: channels at the first level (doubling per level).
        depth: number of 2x down-samplings.
    """

    def __init__(
        self, *, in_channels: int = 1, out_channels: int = 2, base_width: int = 16, depth: int = 4
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        positive_int("base_width", base_width)
        self.depth = positive_int("depth", depth)
        widths = [base_width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList()
        channels = in_channels
        for width in widths[:-1]:
            self.down.append(_double_conv(channels, width))
            channels = width
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bottleneck = _double_conv(widths[-2], widths[-1])
        self.up = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for level in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.up_convs.append(_double_conv(2 * widths[level], widths[level]))
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, out_channels, H, W)`` logits."""
        image_batch(x, channels=self.in_channels, multiple=2**self.depth, network="U-Net")
        skips: list[torch.Tensor] = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, conv, skip in zip(self.up, self.up_convs, reversed(skips), strict=True):
            x = conv(torch.cat([up(x), skip], dim=1))
        return self.head(x)

    def predict_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel, per-channel probabilities in ``[0, 1]``: ``sigmoid(forward(x))``."""
        return torch.sigmoid(self.forward(x))
