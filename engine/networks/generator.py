"""CycleGAN generator of the paper (Table 1): ResNet encoder/decoder with one self-attention layer.

Layer by layer (``w = base_width``, 64 in the paper; every norm is InstanceNorm):

=====================================  =========  ======  =============================
layer                                  kernel     stride  channels
=====================================  =========  ======  =============================
reflection pad 3, conv, IN, ReLU       7 x 7      1       w
conv, IN, ReLU                         3 x 3      2       2w
conv, IN, ReLU                         3 x 3      2       4w
``n_residual_blocks`` residual blocks  3 x 3 (2)  1       4w
SAGAN self-attention (optional)        1 x 1      1       4w (query/key 4w/8)
transposed conv, IN, ReLU              3 x 3      2       2w
transposed conv, IN, ReLU              3 x 3      2       w
reflection pad 3, conv, tanh           7 x 7      1       ``out_channels``
=====================================  =========  ======  =============================

Deviations from the paper's Table 1, and why:

- The first decoder layer has ``2w`` = 128 filters, not the table's "124": 124 is not a power-of-two
  step of 64 and every reference CycleGAN uses 128; we read it as a typo.
- The last layer is a 7x7 *convolution* followed by ``tanh`` (as in the reference CycleGAN), not a
  transposed convolution with InstanceNorm + ReLU: IN would force zero mean per image and ReLU would
  clip every negative value, so the output could not cover the ``[-1, 1]`` image range.
- The paper says "9 residual blocks, a self-attention layer" without a position; we put the one
  attention layer after the residual blocks, at the bottleneck (H/4 x W/4, 4w channels), where it
  sees the deepest features and where a reference generator without attention maps onto ours layer
  for layer (``attention=False``). The layer's gain starts at 0, so it starts as the identity.

The residual 3x3 convolutions (from a 64 x 64 bottleneck on) and the output 7x7 convolution are
:class:`~engine.networks.fast_conv.FastCpuConv2d`, the upsampling convolutions (from 128 x 128
inputs on) :class:`~engine.networks.fast_conv.FastCpuConvTranspose2d`: the same layers, whose CPU
inference runs on NNPACK's Winograd/FFT kernels (2.2x faster for the residual layers at 512, 1.6x
for the last upsampling layer; same result up to float32 rounding). Every InstanceNorm is
:class:`~engine.networks.instance_norm.InstanceNorm2d`, which runs PyTorch's faster group-norm
kernel with one group per channel on the CPU (the same normalisation).

Every convolution has a bias (the reference CycleGAN sets ``use_bias=True`` with InstanceNorm) and
InstanceNorm has no affine parameters by default (the reference ``--norm instance``), so weights of
the reference ``ResnetGenerator`` import losslessly (see ``engine.models.import_reference``).
"""

from __future__ import annotations

from enum import StrEnum

import torch
from torch import nn

from engine.networks._checks import choice, flag, image_batch, positive_int
from engine.networks.attention import DEFAULT_CHUNK_SIZE, AttentionMode, SelfAttention2d
from engine.networks.fast_conv import FastCpuConv2d, FastCpuConvTranspose2d
from engine.networks.instance_norm import InstanceNorm2d

#: Input height and width must be multiples of this (two stride-2 steps down and up).
SIZE_MULTIPLE = 4
#: Residual 3x3 convolutions use NNPACK's Winograd kernels on the CPU from this many output pixels
#: (64 x 64; measured faster there, slower at 32 x 32: see engine.networks.fast_conv).
RESIDUAL_NNPACK_MIN_PIXELS = 64 * 64
#: The upsampling (transposed) convolutions use NNPACK from this many input pixels (128 x 128;
#: measured 2x slower than the direct path at 64 x 64, 1.1x and 1.6x faster at 128 and 256).
UPSAMPLING_NNPACK_MIN_PIXELS = 128 * 128
#: The decoder's NNPACK layers compute their output in row bands of about this many pixels per
#: channel, which bounds NNPACK's workspace (at 512: 4 bands each for the last two layers; peak
#: memory 0.97 -> 0.80 GiB with the benchmark's tuned allocator, same speed).
DECODER_NNPACK_BAND_PIXELS = 256 * 256


class Upsampling(StrEnum):
    """How the decoder doubles the resolution. ``transpose``: the paper's transposed 3x3
    convolution, stride 2. ``resize``: nearest-neighbour upsampling, then a 3x3 convolution
    (Odena et al., Distill 2016). A stride-2 transposed convolution overlaps its kernel unevenly,
    so a 2-pixel stripe or checkerboard pattern is the cheapest thing it can draw; guided by a
    classifier that reads fine lung texture, the shipped generators learnt exactly such stripes.
    The resize form has no such preferred pattern."""

    TRANSPOSE = "transpose"
    RESIZE = "resize"


def _upsampling(in_channels: int, out_channels: int, kind: Upsampling) -> nn.Module:
    """Doubles the resolution: ``(B, in, H, W) -> (B, out, 2H, 2W)`` (see :class:`Upsampling`)."""
    if kind is Upsampling.RESIZE:
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ReflectionPad2d(1),
            FastCpuConv2d(
                in_channels, out_channels, 3, nnpack_min_pixels=RESIDUAL_NNPACK_MIN_PIXELS
            ),
        )
    return FastCpuConvTranspose2d(
        in_channels,
        out_channels,
        3,
        stride=2,
        padding=1,
        output_padding=1,
        nnpack_min_pixels=UPSAMPLING_NNPACK_MIN_PIXELS,
        nnpack_band_pixels=DECODER_NNPACK_BAND_PIXELS,
    )


class ResidualBlock(nn.Module):
    """``x + conv_block(x)``; ``conv_block`` = pad, conv3x3, IN, ReLU, pad, conv3x3, IN.

    The indices in ``conv_block`` (0 pad, 1 conv, 2 norm, 3 ReLU, 4 pad, 5 conv, 6 norm) are
    those of the reference CycleGAN's ``ResnetBlock``. Shapes: ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, *, norm_affine: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            FastCpuConv2d(channels, channels, 3, nnpack_min_pixels=RESIDUAL_NNPACK_MIN_PIXELS),
            InstanceNorm2d(channels, affine=norm_affine),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            FastCpuConv2d(channels, channels, 3, nnpack_min_pixels=RESIDUAL_NNPACK_MIN_PIXELS),
            InstanceNorm2d(channels, affine=norm_affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class CycleGANGenerator(nn.Module):
    """Image translator: ``(B, in_channels, H, W)`` in ``[-1, 1]`` -> same size in ``[-1, 1]``.

    ``H`` and ``W`` must be multiples of 4 and at least 8. See the module docstring for the layers
    and the deviations from the paper.

    Args:
        in_channels: input image channels (1 = grayscale; 3 for imported RGB reference weights).
        out_channels: output image channels.
        base_width: channels of the first layer (paper: 64); the bottleneck has ``4 * base_width``.
        n_residual_blocks: residual blocks at the bottleneck (paper: 9).
        attention: add the SAGAN self-attention layer after the residual blocks (paper: yes).
        attention_mode: chunked (default, low memory) or naive evaluation; not stored in weights.
        attention_chunk_size: query rows per attention block in chunked mode.
        norm_affine: learnable InstanceNorm scale/shift (reference CycleGAN default: no).
        upsampling: the decoder's upsampling layers (paper: transposed convolutions; see
            :class:`Upsampling`).

    Attributes ``encoder``, ``residual_blocks``, ``attention`` (``nn.Identity`` when disabled) and
    ``decoder`` are the four stages; the indices inside ``encoder``/``decoder`` follow the
    reference implementation's flat ``model`` list.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        base_width: int = 64,
        n_residual_blocks: int = 9,
        attention: bool = True,
        attention_mode: AttentionMode | str = AttentionMode.CHUNKED,
        attention_chunk_size: int = DEFAULT_CHUNK_SIZE,
        norm_affine: bool = False,
        upsampling: Upsampling | str = Upsampling.TRANSPOSE,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        positive_int("base_width", base_width)
        positive_int("n_residual_blocks", n_residual_blocks, minimum=0)
        flag("attention", attention)
        flag("norm_affine", norm_affine)
        attention_mode = choice("attention_mode", attention_mode, AttentionMode)
        upsampling = choice("upsampling", upsampling, Upsampling)
        positive_int("attention_chunk_size", attention_chunk_size)
        w = base_width

        def norm(channels: int) -> InstanceNorm2d:
            return InstanceNorm2d(channels, affine=norm_affine)

        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, w, kernel_size=7),
            norm(w),
            nn.ReLU(inplace=True),
            nn.Conv2d(w, 2 * w, kernel_size=3, stride=2, padding=1),
            norm(2 * w),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 4 * w, kernel_size=3, stride=2, padding=1),
            norm(4 * w),
            nn.ReLU(inplace=True),
        )
        self.residual_blocks = nn.Sequential(
            *(ResidualBlock(4 * w, norm_affine=norm_affine) for _ in range(n_residual_blocks))
        )
        self.attention: nn.Module
        if attention:
            self.attention = SelfAttention2d(
                4 * w, mode=attention_mode, chunk_size=attention_chunk_size
            )
        else:
            self.attention = nn.Identity()
        self.decoder = nn.Sequential(
            _upsampling(4 * w, 2 * w, upsampling),
            norm(2 * w),
            nn.ReLU(inplace=True),
            _upsampling(2 * w, w, upsampling),
            norm(w),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(3),
            # NNPACK's FFT kernels beat the direct 7x7 convolution to few channels at every size.
            FastCpuConv2d(w, out_channels, 7, nnpack_band_pixels=DECODER_NNPACK_BAND_PIXELS),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` in ``[-1, 1]`` -> ``(B, out_channels, H, W)``, ``[-1, 1]``."""
        image_batch(
            x, channels=self.in_channels, multiple=SIZE_MULTIPLE, minimum=8, network="generator"
        )
        features = self.residual_blocks(self.encoder(x))
        return self.decoder(self.attention(features))
