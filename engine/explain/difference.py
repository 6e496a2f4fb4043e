"""The signed difference image and its display convention (the paper's Section 2.4).

``difference = translated - original`` in intensity units (``engine.inference.model_input``).
Shown so that mid-gray = no change, brighter = the pixel got brighter, darker = it got darker, on
a scale symmetric around zero that is shared by every frame of an animation (so the same gray
means the same change in each frame).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

from engine.types import FloatImage

# Smallest symmetric limit: an all-zero difference still renders as uniform mid-gray.
_MIN_LIMIT = 1e-3


class DifferenceColourMap(StrEnum):
    GRAY = "gray"  # the paper's convention
    DIVERGING = "diverging"  # blue = darker, white = no change, red = brighter


def signed_difference(original: FloatImage, translated: FloatImage) -> FloatImage:
    """``translated - original`` as float32; positive where the translation brightened."""
    if original.shape != translated.shape:
        raise ValueError("original and translated must have one shape")
    return np.subtract(translated, original, dtype=np.float32)


def symmetric_limit(*differences: FloatImage, percentile: float = 99.5) -> float:
    """One limit ``m`` for the scale ``[-m, m]`` shared by all ``differences``.

    A high percentile of ``|difference|`` rather than the maximum, so a few extreme pixels do not
    wash out the rest; values beyond the limit saturate. Large images are sampled on a regular
    grid of at most ~250k pixels each: the percentile of a smooth change barely moves, and the
    full 9 x 4 Mpx of a 2000 px slider took half a second.
    """
    if not differences:
        raise ValueError("at least one difference image is needed")
    magnitudes = np.concatenate([np.abs(grid_sample(d)).ravel() for d in differences])
    limit = float(np.percentile(magnitudes, percentile)) if magnitudes.size else 0.0
    return max(limit, _MIN_LIMIT)


def grid_sample(image: FloatImage, budget: int = 250_000) -> FloatImage:
    """Every ``step``-th pixel in both directions, ``step`` chosen for about ``budget`` pixels
    (a sample of a sample is the sample itself: ``symmetric_limit`` may be given either)."""
    step = max(1, int(np.sqrt(image.size / budget)))
    return image[::step, ::step] if image.ndim == 2 else image


def render_difference(
    difference: FloatImage,
    limit: float,
    colour_map: DifferenceColourMap = DifferenceColourMap.GRAY,
) -> npt.NDArray[np.uint8]:
    """8-bit rendering: ``(H, W)`` gray (128 = no change) or ``(H, W, 3)`` diverging RGB."""
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    unit = np.clip(difference / np.float32(limit), -1.0, 1.0)  # -1 darker .. +1 brighter
    if colour_map is DifferenceColourMap.GRAY:
        return np.rint(127.5 + 127.5 * unit).astype(np.uint8)
    return _diverging(unit)


def _diverging(unit: FloatImage) -> npt.NDArray[np.uint8]:
    """Blue (decrease) - white (no change) - red (increase), linear in each half."""
    positive = np.clip(unit, 0.0, 1.0)
    negative = np.clip(-unit, 0.0, 1.0)
    red = 1.0 - 0.8 * negative
    green = 1.0 - 0.8 * (positive + negative)
    blue = 1.0 - 0.8 * positive
    rgb = np.stack([red, green, blue], axis=-1)
    return np.rint(255.0 * rgb).astype(np.uint8)
