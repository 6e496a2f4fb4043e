"""Input augmentation for the classifiers: vary what differs between real inputs of one image.

The same radiograph reaches a model through different files and tools: 8- or 16-bit storage,
another resolution (so another amount of resampling blur), a lung mask from the segmenter or from
an annotator (a border a pixel further in or out), another exposure or processing curve (window,
gamma), more or less noise. A classifier that reads any of these instead of the lungs calls a
healthy image diseased when one of them changes (issue: the lung border alone moved healthy
phantoms from P ~0.1 to ~1.0). Each training batch therefore draws them at random, on the cached
model-resolution images, before the lung field is cut out.

All operations act on ``whole`` (``(B, 1, S, S)`` in ``[-1, 1]``) and the lung area share of each
pixel (same shape, ``[0, 1]``), and return the lung-field input ``(B, 1, S, S)``.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    lung_share: tuple[float, float] = (0.25, 0.75)
    morph_probability: float = 0.3
    gamma: tuple[float, float] = (0.9, 1.1)
    window: float = 0.02
    noise: float = 0.008
    blur: float = 0.5
    quantise_probability: float = 0.3

    @classmethod
    def off(cls) -> InputAugmentation:
        return cls((0.5, 0.5), 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0)

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
