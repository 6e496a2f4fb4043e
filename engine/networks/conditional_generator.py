"""FIGAN's conditional generator: (PLS component scores, noise) -> lung-field image.

ResNet-style up-sampling generator (as in the projection-discriminator / BigGAN family, at a
small width): a linear layer maps the *style* vector ``s = [condition, latent]`` to a
``4 x 4`` map; ``log2(size / 4)`` residual up-blocks double the resolution; a final norm, ReLU,
3x3 convolution and ``tanh`` give one channel in ``[-1, 1]`` (model units).

Every normalisation is a *conditional* GroupNorm: GroupNorm without its own affine, followed by a
per-channel scale ``1 + gamma(s)`` and shift ``beta(s)``, both linear in ``s`` (zero-initialised,
so training starts from plain GroupNorm). The condition thus reaches every scale, not only the
first layer, which is what lets one component change the image while the others hold.

Why GroupNorm and not BatchNorm: the generator is also used one image at a time (per-image
inversion in the viewer). GroupNorm computes per-sample statistics, so a generated image does not
depend on what else is in the batch, and train and eval mode give the same output.

Channels at resolution ``r`` are ``min(base_width * size / r, max_width)``.

The output is ``tanh(base + h)``: ``base`` is a fixed ``(1, 1, size, size)`` buffer (zeros by
default), which training sets to ``atanh`` of the mean training image. The network then only
learns deviations from the mean lung-field image; on a CPU budget of about a thousand steps that
is the difference between images with the right black background and lung outline and gray blobs
(seen on the phantoms: with a zero base the first hundred steps drew no background at all).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.networks._checks import positive_int

#: Sides the generator can produce: 4 * 2**n with n >= 1.
SIZES = tuple(4 * 2**n for n in range(1, 8))  # 8 ... 512


def _groups(channels: int) -> int:
    """GroupNorm groups: 8 when the channels allow, fewer for narrow layers."""
    for groups in (8, 4, 2):
        if channels % groups == 0:
            return groups
    return 1


class ConditionalNorm(nn.Module):
    """GroupNorm with an affine from the style: ``(B, C, H, W), (B, S) -> (B, C, H, W)``."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels, affine=False)
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return self.norm(x) * (1.0 + gamma) + beta


class UpBlock(nn.Module):
    """Pre-activation residual block that doubles the resolution (nearest up-sampling)."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int) -> None:
        super().__init__()
        self.norm1 = ConditionalNorm(in_channels, style_dim)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = ConditionalNorm(out_channels, style_dim)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(x, style))
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(F.relu(self.norm2(h, style)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ConditionalGenerator(nn.Module):
    """``(condition (B, n_conditions), latent (B, latent_dim)) -> (B, out_channels, size, size)``.

    Output in ``[-1, 1]`` (tanh). ``condition``: the standardised PLS component scores (SD units);
    ``latent``: noise, ``N(0, I)`` in training.

    Args:
        n_conditions: length of the condition vector (PLS components).
        latent_dim: length of the noise vector (>= 1).
        size: output side, one of 8, 16, ..., 512.
        base_width: channels at the output resolution.
        max_width: channel cap at the coarse resolutions.
        out_channels: image channels (1 = grayscale).
    """

    def __init__(
        self,
        *,
        n_conditions: int = 4,
        latent_dim: int = 32,
        size: int = 64,
        base_width: int = 16,
        max_width: int = 128,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        self.n_conditions = positive_int("n_conditions", n_conditions)
        self.latent_dim = positive_int("latent_dim", latent_dim)
        positive_int("size", size)
        if size not in SIZES:
            raise ValueError(f"size must be one of {list(SIZES)}, got {size}")
        positive_int("base_width", base_width)
        positive_int("max_width", max_width)
        positive_int("out_channels", out_channels)
        self.size = size
        n_up = size.bit_length() - 3  # 4 * 2**n_up == size
        widths = [min(base_width * 2 ** (n_up - level), max_width) for level in range(n_up + 1)]
        style_dim = n_conditions + latent_dim
        self.stem = nn.Linear(style_dim, widths[0] * 16)
        self.blocks = nn.ModuleList(
            UpBlock(widths[level], widths[level + 1], style_dim) for level in range(n_up)
        )
        self.out_norm = nn.GroupNorm(_groups(widths[-1]), widths[-1])
        self.out_conv = nn.Conv2d(widths[-1], out_channels, 3, padding=1)
        self.first_width = widths[0]
        self.register_buffer("base", torch.zeros(1, out_channels, size, size))

    base: torch.Tensor

    def set_base_image(self, mean_image: torch.Tensor) -> None:
        """Set the base to ``atanh`` of ``mean_image`` ``(1, C, size, size)`` in ``[-1, 1]``."""
        if mean_image.shape != self.base.shape:
            raise ValueError(
                f"base image must have shape {tuple(self.base.shape)}, "
                f"got {tuple(mean_image.shape)}"
            )
        with torch.no_grad():
            self.base.copy_(torch.atanh(mean_image.clamp(-0.99, 0.99)))

    def forward(self, condition: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """``(B, n_conditions), (B, latent_dim)`` -> ``(B, out_channels, size, size)``, [-1, 1]."""
        if condition.ndim != 2 or condition.shape[1] != self.n_conditions:
            raise ValueError(
                f"conditional generator expects a condition of shape (B, {self.n_conditions}), "
                f"got {tuple(condition.shape)}"
            )
        if latent.ndim != 2 or latent.shape != (condition.shape[0], self.latent_dim):
            raise ValueError(
                f"conditional generator expects a latent of shape ({condition.shape[0]}, "
                f"{self.latent_dim}), got {tuple(latent.shape)}"
            )
        style = torch.cat([condition, latent], dim=1)
        h = self.stem(style).view(-1, self.first_width, 4, 4)
        for block in self.blocks:
            h = block(h, style)
        return torch.tanh(self.base + self.out_conv(F.relu(self.out_norm(h))))
