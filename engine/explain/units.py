"""Converting a change in intensity units (the model window) to modality units for a radiograph.

The models work on the model-intensity image (``engine.inference.model_input``: the model window,
polarity applied, ``[0, 1]``). The viewer shows the translated image with the original's
window/level and reads pixel values in modality units, so an intensity change ``d`` becomes a
modality change ``d * scale``, where ``scale`` is the inverse slope of the model window
(negative for inverted polarity).
"""

from __future__ import annotations

import numpy as np

from engine.inference.model_input import model_window
from engine.types import FloatImage, Radiograph, VoiFunction


def display_to_modality_scale(radiograph: Radiograph) -> float:
    """Modality units per intensity unit of the model window (signed by polarity)."""
    preset = model_window(radiograph)
    if preset.lut is None and preset.function is not VoiFunction.SIGMOID:
        span = preset.width - 1.0 if preset.function is VoiFunction.LINEAR else preset.width
        scale = max(span, 1e-6)
    else:  # numerical inverse slope of a LUT or sigmoid around the centre
        step = max(preset.width / 100.0, 1e-3)
        probe = np.array([[preset.center - step, preset.center + step]], dtype=np.float32)
        rise = float(np.diff(preset.apply(probe)[0])[0])
        scale = 2.0 * step / rise if rise > 1e-9 else max(preset.width, 1e-6)
    return -scale if radiograph.invert else scale


def modality_change(radiograph: Radiograph, display_change: FloatImage) -> FloatImage:
    """``display_change`` (intensity units of the model window) in the radiograph's modality
    units."""
    return (display_change * np.float32(display_to_modality_scale(radiograph))).astype(np.float32)
