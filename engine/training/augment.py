"""Input augmentation for the classifiers: vary what differs between real inputs of one image.

The same radiograph reaches a model through different files and tools: 8- or 16-bit storage,
another resolution (so another amount of resampling blur), a lung mask from the segmenter or from
an annotator (a border a pixel further in or out), another exposure or processing curve (window,
gamma), more or less noise. A classifier that reads any of these instead of the lungs calls a
healthy image diseased when one of them changes (issue: the lung border alone moved healthy
phantoms from P ~0.1 to ~1.0). Each training batch therefore draws them at random, on the cached
model-resolution images, before the lung field is cut out.

One further variation is off by default: *line patterns* (:meth:`InputAugmentation.with_stripes`),
horizontal lines and fine stripes of either sign added to images of both classes alike. A
generator guided by the shipped classifier learned to remove its disease evidence with dark
horizontal lines and a stripe texture; a classifier that has seen such patterns carry no label
is not moved by those translations (measured in docs/validation/generators.md).

All operations act on ``whole`` (``(B, 1, S, S)`` in ``[-1, 1]``) and the lung area share of each
pixel (same shape, ``[0, 1]``), and return the lung-field input ``(B, 1, S, S)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from engine.inference.model_input import BACKGROUND


@dataclass(frozen=True, slots=True)
class InputAugmentation:
    """Ranges of the random input variations (all off with :meth:`off`).

    ``lung_share``: range of the area share a model pixel needs to count as lung (inference uses
    0.5): the border moves by up to half a pixel. ``morph_probability``: chance of a further
    one-pixel dilation or erosion (either with equal odds). ``gamma``: range of the exponent of a
    tone curve on the intensity. ``window``: how far each end of the intensity window may move
    (intensity units). ``noise``: largest standard deviation of added white noise (intensity
    units). ``blur``: largest Gaussian sigma in model pixels (resampling from another size).
    ``quantise_probability``: chance of 8-bit quantisation of the intensity.
    ``stripe_probability``: chance of a horizontal line pattern (see :func:`line_pattern`) of
    peak amplitude up to ``stripe_amplitude`` (intensity units) on an image.
    """

    lung_share: tuple[float, float] = (0.25, 0.75)
    morph_probability: float = 0.3
    gamma: tuple[float, float] = (0.9, 1.1)
    window: float = 0.02
    noise: float = 0.008
    blur: float = 0.5
    quantise_probability: float = 0.3
    stripe_probability: float = 0.0
    # The shipped to-healthy change's rows vary with SD 0.045-0.053 at 384 px, period 6 px.
    stripe_amplitude: float = 0.08

    @classmethod
    def off(cls) -> InputAugmentation:
        return cls((0.5, 0.5), 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0)

    def with_stripes(self, probability: float) -> InputAugmentation:
        """These variations plus line patterns on a share ``probability`` of the images."""
        return replace(self, stripe_probability=probability)

    def apply(
        self, whole: torch.Tensor, share: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The augmented lung-field input of a batch (see module docstring)."""
        batch = whole.shape[0]

        def uniform(low: float, high: float) -> torch.Tensor:
            values = torch.rand(batch, 1, 1, 1, generator=generator, dtype=whole.dtype)
            return (low + (high - low) * values).to(whole.device)

        intensity = (whole + 1.0) / 2.0
        if self.blur > 0:
            intensity = _blur_each(intensity, uniform(0.0, self.blur))
        if self.window > 0:
            low = uniform(-self.window, self.window)
            high = 1.0 + uniform(-self.window, self.window)
            intensity = ((intensity - low) / (high - low)).clamp(0.0, 1.0)
        if self.gamma != (1.0, 1.0):
            intensity = intensity.clamp(min=0.0) ** uniform(*self.gamma)
        if self.noise > 0:
            sd = uniform(0.0, self.noise)
            noise = torch.randn(intensity.shape, generator=generator, dtype=whole.dtype)
            intensity = (intensity + sd * noise.to(whole.device)).clamp(0.0, 1.0)
        if self.stripe_probability > 0:
            chosen = uniform(0.0, 1.0) < self.stripe_probability
            pattern = line_pattern(batch, intensity.shape[-2], self.stripe_amplitude, generator)
            intensity = (intensity + chosen * pattern.to(whole.device, whole.dtype)).clamp(0, 1)
        if self.quantise_probability > 0:
            chosen = uniform(0.0, 1.0) < self.quantise_probability
            intensity = torch.where(chosen, torch.round(intensity * 255.0) / 255.0, intensity)
        lung = share >= uniform(*self.lung_share)
        if self.morph_probability > 0:
            draw = uniform(0.0, 1.0)
            dilate = draw < self.morph_probability / 2
            erode = (draw >= self.morph_probability / 2) & (draw < self.morph_probability)
            grown = F.max_pool2d(lung.float(), 3, stride=1, padding=1) > 0.5
            shrunk = -F.max_pool2d(-lung.float(), 3, stride=1, padding=1) > 0.5
            lung = torch.where(dilate, grown, torch.where(erode, shrunk, lung))
        # The letterbox margin stays background: only the lung field is ever filled.
        field = intensity * 2.0 - 1.0
        return torch.where(lung, field, torch.full_like(field, BACKGROUND))


def _blur_each(images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of each image with its own sigma (``(B, 1, 1, 1)``; 0 = unchanged)."""
    out = []
    for image, sigma in zip(images, sigmas.flatten().tolist(), strict=True):
        if sigma < 0.05:
            out.append(image)
            continue
        radius = max(1, int(3.0 * sigma + 0.5))
        offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
        kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
        kernel = kernel / kernel.sum()
        padded = F.pad(image[None], (radius, radius, radius, radius), mode="replicate")
        rows = F.conv2d(padded, kernel.view(1, 1, -1, 1))
        out.append(F.conv2d(rows, kernel.view(1, 1, 1, -1))[0])
    return torch.stack(out)


def line_pattern(
    batch: int, size: int, amplitude: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random horizontal line patterns, ``(B, 1, size, 1)`` (constant along each row).

    Each is the sum of fine stripes (a sine across the rows, period 2-12 px, peak up to
    ``amplitude``) and scattered single lines (each row with a chance of up to 15 %, either sign,
    up to ``amplitude``), confined to a random band of rows of 30-100 % of the height with soft
    ends: the shapes of the changes a texture-reading guide let a generator get away with.
    """

    def draw(*shape: int) -> torch.Tensor:
        return torch.rand(batch, *shape, generator=generator)

    rows = torch.arange(size, dtype=torch.float32).view(1, size)
    period = 2.0 + 10.0 * draw(1)
    phase = 2.0 * torch.pi * draw(1)
    stripes = amplitude * draw(1) * torch.sin(2.0 * torch.pi * rows / period + phase)
    hit = draw(size) < 0.15 * draw(1)
    lines = hit * amplitude * (2.0 * draw(size) - 1.0)
    height = (0.3 + 0.7 * draw(1)) * size
    start = (size - height) * draw(1)
    ramp = max(2.0, 0.05 * size)
    band = ((rows - start) / ramp).clamp(0, 1) * ((start + height - rows) / ramp).clamp(0, 1)
    return ((stripes + lines) * band).view(batch, 1, size, 1)
