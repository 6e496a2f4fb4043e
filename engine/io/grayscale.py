"""Grayscale helpers every format shares: luminance of colour input and the automatic window.

Kept apart from ``engine.io.dicom_presentation`` so that reading a PNG, or the parent side of the
decoder process, never imports pydicom (a noticeable part of a command's start-up).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.types import FloatImage, VoiFunction, VoiPreset

# ITU-R BT.601 luma weights: what "converted to luminance" means for RGB input.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Auto window percentiles; the sample is strided to about this many pixels to stay fast.
_AUTO_PERCENTILES = (0.5, 99.5)
_AUTO_SAMPLE_PIXELS = 262_144


def luminance(rgb: npt.NDArray[np.generic]) -> FloatImage:
    """``(H, W, 3)`` -> ``(H, W)`` float32 luma, same value scale as the input."""
    return np.tensordot(rgb[..., :3].astype(np.float32), _LUMA, axes=([-1], [0]))


def auto_window(values: FloatImage, name: str = "auto") -> VoiPreset:
    """A window over the 0.5-99.5 percentile range of a strided sample of ``values``."""
    step = max(1, int(np.sqrt(values.size / _AUTO_SAMPLE_PIXELS)))
    sample = values[::step, ::step]
    low, high = np.percentile(sample, _AUTO_PERCENTILES)
    if not high > low:
        low, high = float(sample.min()), float(sample.max())
    width = max(float(high - low), 1.0 if values.dtype.kind != "f" else 1e-6)
    return VoiPreset(name, float(low + high) / 2.0, width, VoiFunction.LINEAR_EXACT)
