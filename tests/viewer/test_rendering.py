"""Pure display rules: levels reproduce the engine's VOI, drags, the symmetric limit."""

from __future__ import annotations

import numpy as np
import pytest

from engine.api import VoiFunction, VoiPreset
from viewer.rendering import (
    colorbar_ticks,
    compact_number,
    dragged_window,
    grayscale_lut,
    render_values,
    symmetric_limit,
    window_levels,
)


@pytest.mark.parametrize("function", [VoiFunction.LINEAR, VoiFunction.LINEAR_EXACT])
def test_levels_on_raw_values_reproduce_the_engine_window(function: VoiFunction) -> None:
    values = np.linspace(-200.0, 1200.0, 1401, dtype=np.float32)
    preset = VoiPreset("test", center=500.0, width=400.0, function=function)
    low, high = window_levels(preset.center, preset.width, preset.function)
    pane = np.clip((values - low) / (high - low), 0.0, 1.0)
    np.testing.assert_allclose(pane, preset.apply(values), atol=1e-6)


def test_non_linear_presets_are_applied_before_display() -> None:
    values = np.linspace(0.0, 100.0, 11, dtype=np.float32)
    preset = VoiPreset("soft", center=50.0, width=40.0, function=VoiFunction.SIGMOID)
    rendered = render_values(values, preset)
    assert rendered.levels == (0.0, 1.0)
    np.testing.assert_allclose(rendered.image, preset.apply(values))


def test_drag_directions_and_the_minimum_width() -> None:
    preset = VoiPreset("p", center=100.0, width=50.0)
    wider = dragged_window(preset, 10.0, 0.0, value_range=600.0)
    assert wider.width == pytest.approx(60.0)
    assert wider.center == pytest.approx(100.0)
    higher = dragged_window(preset, 0.0, 10.0, value_range=600.0)
    assert higher.center == pytest.approx(110.0)
    inverted = dragged_window(preset, 10.0, 10.0, value_range=600.0, invert_direction=True)
    assert (inverted.center, inverted.width) == pytest.approx((90.0, 40.0))
    narrowest = dragged_window(preset, -1e6, 0.0, value_range=600.0)
    assert narrowest.width > 0.0


def test_symmetric_limit_ignores_non_finite_values_and_never_returns_zero() -> None:
    arrays = [np.array([1.0, -3.0, np.nan], dtype=np.float32), np.array([2.0], np.float32)]
    assert symmetric_limit(arrays) == 3.0
    assert symmetric_limit([np.zeros((4, 4), np.float32)]) == 1.0


def test_inverted_lut_maps_low_values_to_white() -> None:
    assert grayscale_lut(False)[0].tolist() == [0, 0, 0]
    assert grayscale_lut(True)[0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("limit", [20880.0, 1.0, 0.3, 0.0123, 10.99, 99.99, 300.0, 4e-5, 5e6])
def test_colorbar_ticks_are_round_and_span_the_symmetric_scale(limit: float) -> None:
    ticks = colorbar_ticks(limit)
    values = [value for value, _text in ticks]
    assert len(values) == 5
    assert values == [-values[4], -values[3], 0.0, values[3], values[4]]
    assert values[3] == pytest.approx(values[4] / 2)
    # Inside the bar, and its outer ticks near the ends.
    assert 0.9 * limit <= values[4] <= limit
    assert all(text == compact_number(value) for value, text in ticks)


def test_colorbar_ticks_of_the_issue_scale() -> None:
    assert [text for _value, text in colorbar_ticks(20880.0)] == [
        "\u221220000",
        "\u221210000",
        "0",
        "10000",
        "20000",
    ]
    with pytest.raises(ValueError, match="limit"):
        colorbar_ticks(0.0)


def test_compact_numbers_avoid_exponents_in_the_usual_range() -> None:
    assert compact_number(20880.0) == "20880"
    assert compact_number(-0.006) == "\u22120.006"
    assert compact_number(49.5) == "49.5"
    assert compact_number(0.0) == "0"
    assert compact_number(2e7) == "2e+07"
