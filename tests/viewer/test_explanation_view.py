"""The fake explanation fills the translated and difference panes and drives the slider."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from pytestqt.qtbot import QtBot
from viewer_fakes import FAKE_MODEL, FakeDragEvent, fake_explainer, fake_explanation

from engine.api import Radiograph, load_radiograph, sample_radiograph_path
from viewer.colormaps import DifferenceMap
from viewer.image_pane import Corner
from viewer.main_window import MainWindow


@pytest.fixture
def window(make_main_window: MakeMainWindow, qtbot: QtBot) -> MainWindow:
    window = make_main_window(explainer=fake_explainer)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    return window


def test_explanation_fills_translated_and_difference_panes(window: MainWindow) -> None:
    comparison = window.comparison
    explanation = comparison.explanation
    assert explanation is not None
    assert comparison.translated.has_image
    assert comparison.difference.has_image
    np.testing.assert_array_equal(comparison.translated.values, explanation.translated)
    np.testing.assert_allclose(comparison.difference.values, explanation.difference)
    assert window.explanation_panel.model_label.text().startswith(FAKE_MODEL.split()[0])


def test_difference_levels_are_symmetric_around_zero(window: MainWindow) -> None:
    low, high = window.comparison.difference.levels()
    explanation = window.comparison.explanation
    assert low == -high
    assert high == pytest.approx(float(np.abs(explanation.difference).max()))
    assert window.comparison.difference.colorbar.levels() == (low, high)


def test_moving_the_slider_changes_frame_and_probability(window: MainWindow) -> None:
    panel = window.explanation_panel
    explanation = window.comparison.explanation
    limit_before = window.comparison.difference_limit

    panel.slider.setValue(2)

    frame = explanation.frames[2]
    assert window.comparison.frame == 2
    np.testing.assert_array_equal(window.comparison.translated.values, frame.translated)
    assert f"{frame.probability:.2f}" in panel.probability_label.text()
    assert "Frame 3 of 5" in panel.frame_label.text()
    # One scale for every frame, so the animation does not flicker.
    assert window.comparison.difference.levels() == (-limit_before, limit_before)

    panel.step(-1)
    assert window.comparison.frame == 1
    panel.step(-2)  # wraps around
    assert window.comparison.frame == 4


def test_playback_advances_frames(window: MainWindow, qtbot: QtBot) -> None:
    panel = window.explanation_panel
    panel.fps_spin.setValue(30)
    start = window.comparison.frame

    with qtbot.waitSignal(window.comparison.frame_shown, timeout=5000):
        panel.toggle_playing()
    assert panel.playing
    assert window.comparison.frame != start
    panel.toggle_playing()
    assert not panel.playing


def test_warnings_show_in_the_banner(window: MainWindow) -> None:
    radiograph = window.state.radiograph
    window.session.explanations.show_explanation(
        fake_explanation(radiograph, warnings=("invalid counterfactual: the class did not flip",))
    )
    assert window.explanation_panel.banner.isVisible()
    assert "invalid counterfactual" in window.explanation_panel.banner.text()


def test_diverging_map_keeps_the_symmetric_scale(window: MainWindow) -> None:
    window.display_panel.diverging_check.setChecked(True)
    low, high = window.comparison.difference.levels()
    assert low == -high
    assert window.comparison.difference_map is DifferenceMap.DIVERGING
    assert window.settings.diverging_difference is True


def test_unlinked_window_levels_only_the_dragged_pane(window: MainWindow) -> None:
    window.display_panel.link_window_check.setChecked(False)
    translated_before = window.comparison.translated.levels()

    window.comparison.original.view_box.mouseDragEvent(
        FakeDragEvent(Qt.MouseButton.LeftButton, (50.0, 0.0))
    )

    assert window.comparison.translated.levels() == translated_before
    assert window.comparison.original.levels() != translated_before


def _monochrome1(path: Path) -> Radiograph:
    """The sample as a MONOCHROME1 image (low values shown white)."""
    return dataclasses.replace(load_radiograph(sample_radiograph_path()), invert=True)


@pytest.mark.parametrize("diverging", [False, True], ids=["gray", "diverging"])
@pytest.mark.parametrize("user_invert", [False, True], ids=["as-stored", "inverted"])
@pytest.mark.parametrize("monochrome1", [False, True], ids=["monochrome2", "monochrome1"])
def test_the_difference_legend_names_the_colour_bar_ends(
    make_main_window: MakeMainWindow,
    qtbot: QtBot,
    monochrome1: bool,
    user_invert: bool,
    diverging: bool,
) -> None:
    window = make_main_window(
        explainer=fake_explainer, loader=_monochrome1 if monochrome1 else load_radiograph
    )
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    window.display_panel.diverging_check.setChecked(diverging)
    if user_invert:
        window.comparison.toggle_invert()

    pane = window.comparison.difference
    # The bar runs from -m (bottom) to +m (top); the pixels are drawn through the same map.
    bottom, top = pane.colorbar.colorMap().map([0.0, 1.0], mode="byte")[:, :3].astype(int)
    lut = pane.image_item.lut
    np.testing.assert_array_equal(lut[0][:3], bottom)
    np.testing.assert_array_equal(lut[-1][:3], top)
    if diverging:
        increase, decrease = ("red", "blue") if top[0] > top[2] else ("blue", "red")
    else:
        increase, decrease = (
            ("brighter", "darker") if top.sum() > bottom.sum() else ("darker", "brighter")
        )
    legend = pane.corner_text(Corner.TOP_LEFT)
    assert f"{increase} = increase" in legend
    assert f"{decrease} = decrease" in legend
    # Shown like the image: a change brighter on the radiograph is brighter here too.
    assert (increase in ("darker", "blue")) == window.comparison.inverted


def _drawn_tick_labels(axis: pg.AxisItem) -> list[str]:
    """The tick labels the axis would draw now (it silently drops those that do not fit)."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [] if specs is None else [text for _rect, _flags, text in specs[2]]


def test_colour_bar_labels_span_the_whole_symmetric_scale(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    def explainer(radiograph: Radiograph, *_: object) -> object:
        return fake_explanation(radiograph, amplitude=20880.0)

    window = make_main_window(explainer=explainer)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    comparison = window.comparison
    pane = comparison.difference
    assert 20000.0 < comparison.difference_limit <= 20880.0

    expected = ["\u221220000", "\u221210000", "0", "10000", "20000"]

    def all_labels_drawn() -> None:
        assert sorted(_drawn_tick_labels(pane.colorbar.axis)) == sorted(expected)

    qtbot.waitUntil(all_labels_drawn)  # laid out on the next pass of the event loop
    assert [text for _value, text in pane.colorbar_ticks] == expected
    assert "± 20" in pane.corner_text(Corner.TOP_RIGHT)
    assert "e+" not in pane.corner_text(Corner.TOP_RIGHT)

    # Dragging the scale relabels the bar over its new range.
    pane.view_box.mouseDragEvent(FakeDragEvent(Qt.MouseButton.LeftButton, (-300.0, 0.0)))
    limit = comparison.difference_limit
    values = [value for value, _text in pane.colorbar_ticks]
    assert values == sorted(values)
    assert values[0] == -values[-1]
    assert 0.9 * limit <= values[-1] <= limit
    qtbot.waitUntil(lambda: len(_drawn_tick_labels(pane.colorbar.axis)) == 5)
