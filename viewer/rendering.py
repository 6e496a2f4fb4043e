"""Pure functions from modality values and a VOI preset to what an ``ImageItem`` is given.

No Qt here: these are unit-testable without a display.

A pane shows *modality values* whenever it can, so that the pixel readout and the window/level
numbers speak the DICOM's units: for a linear window the ``ImageItem`` gets the raw values and the
levels ``(low, high)`` of the window, which reproduces ``VoiPreset.apply`` exactly. A sigmoid window
or a VOI LUT table is not linear, so those are applied here and shown with levels ``(0, 1)``.
Polarity (MONOCHROME1, or the user's invert) is a reversed grayscale lookup table, never a change
to the values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.api import VoiFunction, VoiPreset

FloatImage = npt.NDArray[np.float32]
LookupTable = npt.NDArray[np.uint8]

# Screen pixels of drag that change the window by the image's full value range.
DRAG_PIXELS_PER_RANGE = 600.0
MIN_WINDOW_WIDTH = 1e-3
_MINUS = "\u2212"  # minus sign


@dataclass(frozen=True, slots=True)
class PaneImage:
    """What one pane draws: ``image`` (H, W) float32 and the ``levels`` mapped to black/white."""

    image: FloatImage
    levels: tuple[float, float]


def is_linear(preset: VoiPreset) -> bool:
    """True when the preset is a straight-line window (levels on raw values reproduce it)."""
    return preset.lut is None and preset.function in (VoiFunction.LINEAR, VoiFunction.LINEAR_EXACT)


def window_levels(center: float, width: float, function: VoiFunction) -> tuple[float, float]:
    """``(low, high)`` input values that map to 0 and 1, as DICOM PS3.3 C.11.2.1.2 defines."""
    if function is VoiFunction.LINEAR:
        low = center - 0.5 - (width - 1.0) / 2.0
        return low, low + max(width - 1.0, 1e-6)
    return center - width / 2.0, center + max(width, 1e-6) / 2.0


def render_values(values: FloatImage, preset: VoiPreset) -> PaneImage:
    """Map modality ``values`` (H, W) float32 through ``preset`` for display (before polarity)."""
    if is_linear(preset):
        return PaneImage(values, window_levels(preset.center, preset.width, preset.function))
    return PaneImage(preset.apply(values), (0.0, 1.0))


def grayscale_lut(inverted: bool) -> LookupTable:
    """A 256-entry (256, 3) uint8 gray lookup table; ``inverted`` maps low values to white."""
    ramp = np.arange(256, dtype=np.uint8)
    if inverted:
        ramp = ramp[::-1]
    return np.repeat(ramp[:, None], 3, axis=1)


def dragged_window(
    preset: VoiPreset,
    dx: float,
    dy: float,
    value_range: float,
    *,
    invert_direction: bool = False,
) -> VoiPreset:
    """The window after a left-drag of ``(dx, dy)`` screen pixels.

    Horizontal changes the width (right = wider, less contrast), vertical the centre (down = higher
    centre, darker image), as in most PACS; ``invert_direction`` reverses both.
    ``value_range`` is the image's max - min, so a drag feels the same on 8-bit and 16-bit images.
    """
    sign = -1.0 if invert_direction else 1.0
    step = max(value_range, 1.0) / DRAG_PIXELS_PER_RANGE
    width = max(preset.width + sign * dx * step, MIN_WINDOW_WIDTH)
    center = preset.center + sign * dy * step
    return preset.with_window(center, width)


def symmetric_limit(arrays: Iterable[FloatImage]) -> float:
    """Largest absolute finite value over ``arrays``, for a difference scale ``(-m, +m)``.

    Returns 1.0 when every array is zero (or empty) so that the levels are never degenerate.
    """
    limit = 0.0
    for array in arrays:
        if array.size:
            finite = np.abs(array[np.isfinite(array)])
            if finite.size:
                limit = max(limit, float(finite.max()))
    return limit if limit > 0.0 and math.isfinite(limit) else 1.0


def colorbar_ticks(limit: float) -> tuple[tuple[float, str], ...]:
    """Labelled ticks ``(value, text)`` for a symmetric colour bar ``(-limit, +limit)``.

    Five ticks from bottom to top: ``-n, -n/2, 0, n/2, n`` where ``n`` is ``limit`` rounded down
    to two significant digits, so that every label is a round number that lies on the bar and
    the outer ticks sit within 10 % of its ends (20880 gives +-20000 and +-10000).
    """
    if not (limit > 0.0 and math.isfinite(limit)):
        raise ValueError(f"limit must be positive and finite, got {limit}")
    exponent = math.floor(math.log10(limit)) - 1
    # Two digits; the tolerance keeps 0.3 (0.2999... after division) at 30, not 29.
    digits = math.floor(limit / 10.0**exponent + 1e-9)
    # Built from decimal text, so that 4e-05 is not 3.9999999999999996e-05.
    outer, half = float(f"{digits}e{exponent}"), float(f"{digits / 2}e{exponent}")
    values = (-outer, -half, 0.0, half, outer)
    return tuple((value, compact_number(value)) for value in values)


def compact_number(value: float) -> str:
    """``value`` in plain digits with a typographic minus sign: four significant digits, or all
    of the integer part (20880, not 2.088e+04); scientific notation outside ``[1e-4, 1e6)``."""
    if value == 0.0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if -4 <= magnitude < 6:
        text = f"{value:.{max(3 - magnitude, 0)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        text = f"{value:.3g}"
    return text.replace("-", _MINUS)
