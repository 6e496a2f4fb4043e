"""Lung contour and attribution overlays: the pure builders and the toggles in the window."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.image_pane import Corner, Layer
from viewer.main_window import MainWindow
from viewer.overlays import Attribution, contour_rgba, heat_rgba, mask_contour, over


def test_mask_contour_is_the_inner_border() -> None:
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    border = mask_contour(mask, 1)
    expected = mask.copy()
    expected[2:5, 2:5] = False
    np.testing.assert_array_equal(border, expected)
    assert not mask_contour(mask, 3)[3, 3] or mask_contour(mask, 3).sum() == mask.sum()
    with pytest.raises(ValueError, match="thickness"):
        mask_contour(mask, 0)


def test_contour_rgba_is_opaque_only_on_the_line() -> None:
    mask = np.zeros((50, 50), bool)
    mask[10:40, 10:40] = True
    rgba = contour_rgba((mask,))
    assert rgba.shape == (50, 50, 4)
    assert rgba.dtype == np.uint8
    assert rgba[10, 20, 3] == 255  # on the border
    assert rgba[25, 25, 3] == 0  # inside
    assert rgba[0, 0, 3] == 0  # outside
    assert not rgba.flags.writeable


def test_over_draws_the_top_lines_and_keeps_the_rest() -> None:
    outer = np.zeros((30, 30), bool)
    outer[2:28, 2:28] = True
    inner = np.zeros((30, 30), bool)
    inner[10:20, 10:20] = True
    bottom, top = contour_rgba((outer,)), contour_rgba((inner,), (255, 0, 0))
    both = over(top, bottom)
    np.testing.assert_array_equal(both[10, 15], top[10, 15])
    np.testing.assert_array_equal(both[2, 15], bottom[2, 15])
    assert both[25, 15, 3] == 0
    assert over(top, None) is top


def test_heat_rgba_rises_with_relevance() -> None:
    values = np.linspace(0.0, 1.0, 11, dtype=np.float32)[None, :]
    rgba = heat_rgba(values)
    alpha = rgba[0, :, 3].astype(int)
    assert alpha[0] == 0
    assert alpha[-1] == 255
    assert np.all(np.diff(alpha) >= 0)
    assert heat_rgba(np.array([[np.nan, 2.0]], np.float32))[0, :, 3].tolist() == [0, 255]


def test_lung_contour_toggle_draws_on_all_three_panes(explained_window: MainWindow) -> None:
    comparison = explained_window.comparison
    panes = comparison.panes.values()
    assert not any(pane.layer_visible(Layer.CONTOUR) for pane in panes)

    explained_window.display_panel.lung_contour_check.setChecked(True)

    assert all(pane.layer_visible(Layer.CONTOUR) for pane in panes)
    image = comparison.original.layer_item(Layer.CONTOUR).image
    lung = explained_window.statistics_panel.report is not None
    assert lung
    result = comparison.explanation.result
    on_line = image[..., 3] > 0
    assert on_line.any()
    assert np.all((result.right_lung | result.left_lung)[on_line])  # inner contour
    assert explained_window.settings.lung_contour is True

    explained_window.display_panel.lung_contour_check.setChecked(False)
    assert not any(pane.layer_visible(Layer.CONTOUR) for pane in panes)


def test_attribution_overlay_only_on_the_original_pane(explained_window: MainWindow) -> None:
    comparison = explained_window.comparison
    panel = explained_window.display_panel
    panel.attribution_combo.setCurrentIndex(panel.attribution_combo.findData("gradcam"))

    original = comparison.original
    assert original.layer_visible(Layer.HEAT)
    assert not comparison.translated.layer_visible(Layer.HEAT)
    assert not comparison.difference.layer_visible(Layer.HEAT)
    assert "Grad-CAM" in original.corner_text(Corner.BOTTOM_RIGHT)
    gradcam = comparison.explanation.result.attributions.gradcam
    np.testing.assert_array_equal(original.layer_item(Layer.HEAT).image, heat_rgba(gradcam))

    panel.opacity_slider.setValue(80)
    assert original.layer_item(Layer.HEAT).opacity() == pytest.approx(0.8)
    panel.attribution_combo.setCurrentIndex(panel.attribution_combo.findData("gradient"))
    gradient = comparison.explanation.result.attributions.gradient
    np.testing.assert_array_equal(original.layer_item(Layer.HEAT).image, heat_rgba(gradient))
    assert explained_window.settings.attribution_overlay is Attribution.GRADIENT
    assert explained_window.settings.overlay_opacity == pytest.approx(0.8)

    panel.attribution_combo.setCurrentIndex(panel.attribution_combo.findData("none"))
    assert not original.layer_visible(Layer.HEAT)


def test_overlays_disappear_with_the_explanation(explained_window: MainWindow) -> None:
    explained_window.display_panel.lung_contour_check.setChecked(True)
    panel = explained_window.display_panel
    panel.attribution_combo.setCurrentIndex(panel.attribution_combo.findData("gradcam"))
    explained_window.comparison.clear_explanation("Computing…")
    for pane in explained_window.comparison.panes.values():
        assert not pane.layer_visible(Layer.CONTOUR)
        assert not pane.layer_visible(Layer.HEAT)


def test_overlay_settings_are_restored(make_main_window, settings) -> None:
    settings.lung_contour = True
    settings.attribution_overlay = Attribution.GRADCAM
    settings.overlay_opacity = 0.3
    window = make_main_window()
    assert window.display_panel.lung_contour_check.isChecked()
    assert window.display_panel.attribution is Attribution.GRADCAM
    assert window.display_panel.opacity_slider.value() == 30
    assert window.comparison.lung_contour_visible
    assert window.comparison.attribution is Attribution.GRADCAM
