"""A separable Gaussian blur on NumPy arrays, for modules that must not import torch.

The phantom detector model blurs with it (engine.phantoms stays torch-free, so that writing
phantoms starts fast), and so does the model input for an image that needs no resampling
(engine.inference.model_input).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.types import FloatImage


def gaussian_kernel(sigma: float) -> npt.NDArray[np.float64]:
    """The normalised 1-D taps of :func:`gaussian_blur`: ``2 * radius + 1`` of them, radius
    ``ceil(3 sigma)`` (at least 1); ``sigma`` > 0, in px."""
    radius = max(1, math.ceil(3.0 * sigma))
    side = np.exp(-0.5 * (np.arange(1, radius + 1, dtype=np.float64) / sigma) ** 2)
    norm = 1.0 + 2.0 * side.sum()
    return np.concatenate([side[::-1], [1.0], side]) / norm


def gaussian_blur(image: FloatImage, sigma: float) -> FloatImage:
    """Separable Gaussian blur (edge-replicated borders), float32; ``sigma`` in px."""
    if sigma <= 0.0:
        return image.astype(np.float32, copy=True)
    kernel = gaussian_kernel(sigma)
    radius = len(kernel) // 2
    center = np.float32(kernel[radius])
    weights = kernel[radius + 1 :].astype(np.float32)
    height, width = image.shape
    padded = np.pad(image.astype(np.float32, copy=False), ((0, 0), (radius, radius)), "edge")
    out = padded[:, radius : radius + width] * center
    for tap, weight in enumerate(weights, start=1):
        out += (
            padded[:, radius - tap : radius - tap + width] + padded[:, radius + tap :][:, :width]
        ) * weight
    padded = np.pad(out, ((radius, radius), (0, 0)), "edge")
    out = padded[radius : radius + height] * center
    for tap, weight in enumerate(weights, start=1):
        out += (
            padded[radius - tap : radius - tap + height] + padded[radius + tap :][:height]
        ) * weight
    return out
