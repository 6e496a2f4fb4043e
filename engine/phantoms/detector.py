"""Detector model: density to brightness (exposure and tone curve), blur and quantum noise.

Brightness follows the X-ray display convention (dense = bright): a processed radiograph is
close to linear in the logarithm of the detected exposure, i.e. in the path density ``D``; the
tone curve ``1 - exp(-(k D)^2)`` compresses the dense end like the S-shaped curve of CR/DR
processing, and ``k`` varies per image (exposure / processing variation).

Quantum noise grows with brightness (fewer photons behind dense tissue), so its standard
deviation is ``level * (0.4 + 0.8 * I)`` of the noiseless brightness ``I``, applied before the
detector blur, which correlates it over ~1 px as a real detector's MTF does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.blur import gaussian_blur
from engine.types import FloatImage

NOISE_SIGMA = 0.016  # white-noise scale before blur at noise_level 1
BLUR_MM = 0.35  # detector point spread (Gaussian sigma) in mm
MIN_BLUR_PX = 0.55  # at least this much, so that edges are anti-aliased at small sizes
BLACK_LEVEL = 0.02  # brightness of unattenuated beam (outside the body)


@dataclass(frozen=True, slots=True)
class Exposure:
    """Per-image exposure and processing: tone-curve slope, heel-effect gradient."""

    attenuation: float
    heel: float

    @staticmethod
    def sample(rng: np.random.Generator, vary: bool) -> Exposure:
        slope, heel = rng.uniform(0.9, 1.1), rng.uniform(-0.02, 0.02)
        if not vary:
            slope, heel = 1.0, 0.0
        return Exposure(attenuation=0.055 * slope, heel=heel)


def tone(density: FloatImage, exposure: Exposure) -> FloatImage:
    """Brightness in [0, 1] of a path density image (D units)."""
    scaled = np.multiply(density, np.float32(-exposure.attenuation), dtype=np.float32)
    np.multiply(scaled, np.abs(scaled), out=scaled)  # -(k D)^2
    np.exp(scaled, out=scaled)
    return np.float32(BLACK_LEVEL + (1.0 - BLACK_LEVEL)) - np.float32(1.0 - BLACK_LEVEL) * scaled


def heel_gradient(size: int, exposure: Exposure) -> FloatImage:
    """Additive top-to-bottom brightness gradient (anode heel effect), (size, 1)."""
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)[:, None]
    return ramp * np.float32(exposure.heel)


def blur_sigma_px(spacing_mm: float) -> float:
    """Gaussian sigma in px of the detector blur at this spacing."""
    return max(BLUR_MM / spacing_mm, MIN_BLUR_PX)


def noise_field(clean: FloatImage, rng: np.random.Generator, level: float) -> FloatImage:
    """Signal-dependent quantum noise (before blur) for the noiseless brightness ``clean``."""
    # Uniform white noise of unit variance: the detector blur sums several samples, which makes
    # it Gaussian to a good approximation, at a third of the cost of normal variates.
    white = rng.random(clean.shape, dtype=np.float32)
    white -= np.float32(0.5)
    white *= np.float32(math.sqrt(12.0))
    if level <= 0.0:
        return np.zeros_like(clean)
    sigma = clean * np.float32(0.8 * NOISE_SIGMA * level)
    sigma += np.float32(0.4 * NOISE_SIGMA * level)
    return white * sigma


def detect(image: FloatImage, sigma_px: float) -> FloatImage:
    """Apply the detector blur."""
    return gaussian_blur(image, sigma_px)
