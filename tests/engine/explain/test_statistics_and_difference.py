"""Lung statistics against hand-computed values; the difference display convention."""

from __future__ import annotations

import numpy as np
import pytest

from engine.explain.difference import (
    DifferenceColourMap,
    render_difference,
    signed_difference,
    symmetric_limit,
)
from engine.explain.statistics import lung_statistics
from engine.explain.zones import Zone, split_zones


def _masks() -> tuple[np.ndarray, np.ndarray]:
    right = np.zeros((12, 10), bool)
    left = np.zeros((12, 10), bool)
    right[0:6, 1:3] = True  # 12 pixels, rows 0..5
    left[3:9, 6:8] = True  # 12 pixels, rows 3..8
    return right, left


def test_zones_are_thirds_of_each_lung_height():
    right, _ = _masks()
    zones = split_zones(right)
    assert [int(zones[z].sum()) for z in Zone] == [4, 4, 4]
    assert zones[Zone.UPPER][0, 1]
    assert zones[Zone.LOWER][5, 1]
    combined = zones[Zone.UPPER] | zones[Zone.MIDDLE] | zones[Zone.LOWER]
    np.testing.assert_array_equal(combined, right)


def test_statistics_match_hand_computation():
    right, left = _masks()
    original = np.zeros((12, 10), np.float32)
    original[right] = 0.2
    original[left] = 0.4
    translated = original.copy()
    translated[right] += 0.1  # right lung brightens by 0.1
    stats = lung_statistics(original, translated, right, left)
    lung = stats.lung
    assert lung.n_pixels == 24
    assert lung.mean_original == pytest.approx(0.3)
    assert lung.std_original == pytest.approx(0.1)
    assert lung.mean_translated == pytest.approx(0.35)
    assert lung.mean_change == pytest.approx(0.05)
    assert stats.region("right lung").mean_change == pytest.approx(0.1)
    assert stats.region("left lung").mean_change == pytest.approx(0.0)
    assert stats.region("right upper").n_pixels == 4
    assert stats.region("upper zones").n_pixels == 8
    assert int(stats.histogram_counts.sum()) == 24
    edges = stats.histogram_edges
    assert edges[0] == pytest.approx(-edges[-1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_statistics_equal_direct_masked_statistics(seed):
    """Every region equals mean/std over its own full-image mask (split_zones), also where the
    two lung masks overlap and for lungs of different heights."""
    rng = np.random.default_rng(seed)
    shape = (37, 29)
    original = rng.random(shape, dtype=np.float32)
    translated = np.clip(original + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)
    right = np.zeros(shape, bool)
    left = np.zeros(shape, bool)
    right[3:30, 2:16] = rng.random((27, 14)) < 0.8
    left[9:35, 12:27] = rng.random((26, 15)) < 0.8  # columns 12-15 overlap the right lung
    stats = lung_statistics(original, translated, right, left)
    zones = {"right": split_zones(right), "left": split_zones(left)}
    expected = {"lung": right | left, "right lung": right, "left lung": left}
    for zone in Zone:
        expected[f"right {zone.value}"] = zones["right"][zone]
        expected[f"left {zone.value}"] = zones["left"][zone]
        expected[f"{zone.value} zones"] = zones["right"][zone] | zones["left"][zone]
    assert {r.region for r in stats.regions} == set(expected)
    for name, mask in expected.items():
        region = stats.region(name)
        assert region.n_pixels == int(mask.sum()), name
        before = original[mask].astype(np.float64)
        after = translated[mask].astype(np.float64)
        assert region.mean_original == pytest.approx(before.mean(), abs=1e-12), name
        assert region.std_original == pytest.approx(before.std(), abs=1e-12), name
        assert region.mean_translated == pytest.approx(after.mean(), abs=1e-12), name
        assert region.std_translated == pytest.approx(after.std(), abs=1e-12), name
    change = (translated - original)[right | left]
    assert int(stats.histogram_counts.sum()) == change.size
    assert stats.histogram_edges[-1] == pytest.approx(float(np.abs(change).max()))


def test_statistics_of_an_empty_region_are_nan_not_an_error():
    right, left = _masks()
    empty = np.zeros_like(left)
    stats = lung_statistics(
        np.zeros((12, 10), np.float32), np.zeros((12, 10), np.float32), right, empty
    )
    assert np.isnan(stats.region("left lung").mean_original)


def test_brighter_counterfactual_renders_above_mid_gray():
    original = np.full((4, 4), 0.3, np.float32)
    translated = original.copy()
    translated[:2] += 0.2  # brighter
    translated[2:3] -= 0.1  # darker
    difference = signed_difference(original, translated)
    rendered = render_difference(difference, symmetric_limit(difference))
    assert rendered[0, 0] > 128
    assert rendered[2, 0] < 128
    assert rendered[3, 0] in (127, 128)


def test_shared_limit_gives_the_same_gray_for_the_same_change_in_every_frame():
    small = np.full((2, 2), 0.05, np.float32)
    large = np.full((2, 2), 0.2, np.float32)
    limit = symmetric_limit(small, large)
    assert limit == pytest.approx(0.2)
    assert render_difference(small, limit)[0, 0] < render_difference(large, limit)[0, 0]


def test_diverging_map_is_red_for_increase_blue_for_decrease_white_for_none():
    difference = np.array([[0.5, -0.5, 0.0]], np.float32)
    rgb = render_difference(difference, 0.5, DifferenceColourMap.DIVERGING)
    red, blue, white = rgb[0, 0], rgb[0, 1], rgb[0, 2]
    assert red[0] > red[2]
    assert blue[2] > blue[0]
    assert tuple(white) == (255, 255, 255)


def test_intensity_change_maps_back_to_modality_units(tmp_path):
    """Changes are made in model-intensity units (the model window, not the file's default
    VOI): +0.1 there is +0.1 x the window's width in modality units, signed by polarity."""
    from engine.explain.units import display_to_modality_scale, modality_change
    from engine.inference.model_input import model_intensity, model_window
    from engine.types import ImageInfo, Radiograph, SourceFormat, VoiFunction, VoiPreset

    pixels = np.linspace(0, 4000, 20, dtype=np.float32).reshape(4, 5)
    info = ImageInfo(SourceFormat.DICOM, 4, 5)
    # A narrow header window: the conversion must not depend on it.
    window = VoiPreset("w", 2000.0, 1000.0, VoiFunction.LINEAR_EXACT)
    upright = Radiograph(pixels, (window,), False, info)
    inverted = Radiograph(pixels, (window,), True, info)
    width = model_window(upright).width
    assert width == pytest.approx(0.99 * 4000.0, rel=1e-3)  # the 0.5-99.5 percentile range
    assert display_to_modality_scale(upright) == pytest.approx(width)
    assert display_to_modality_scale(inverted) == pytest.approx(-width)
    before = model_intensity(upright)
    changed = Radiograph(
        pixels + modality_change(upright, np.full((4, 5), 0.1, np.float32)), (window,), False, info
    )
    after = changed.display(model_window(upright))
    inside = (before > 0.05) & (before < 0.85)
    np.testing.assert_allclose(after[inside] - before[inside], 0.1, atol=1e-5)
