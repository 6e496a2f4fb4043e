"""The fake explanation fills the translated and difference panes and drives the slider."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from pytestqt.qtbot import QtBot
from viewer_fakes import FAKE_MODEL, fake_explainer, fake_explanation

from engine.api import sample_radiograph_path
from viewer.colormaps import DifferenceMap
from viewer.main_window import MainWindow


@pytest.fixture
def window(make_main_window: MakeMainWindow, qtbot: QtBot) -> MainWindow:
    window = make_main_window(explainer=fake_explainer)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.open_path(str(sample_radiograph_path()))
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
    radiograph = window.radiograph
    window.show_explanation(
        fake_explanation(radiograph, warnings=("invalid counterfactual: the class did not flip",))
    )
    assert window.explanation_panel.banner.isVisible()
    assert "invalid counterfactual" in window.explanation_panel.banner.text()


def test_diverging_map_keeps_the_symmetric_scale(window: MainWindow) -> None:
    window.display_panel.diverging_check.setChecked(True)
    low, high = window.comparison.difference.levels()
    assert low == -high
    assert window.comparison._difference_map is DifferenceMap.DIVERGING
    assert window.settings.diverging_difference is True


def test_unlinked_window_levels_only_the_dragged_pane(window: MainWindow) -> None:
    from PySide6.QtCore import Qt
    from viewer_fakes import FakeDragEvent

    window.display_panel.link_window_check.setChecked(False)
    translated_before = window.comparison.translated.levels()

    window.comparison.original.view_box.mouseDragEvent(
        FakeDragEvent(Qt.MouseButton.LeftButton, (50.0, 0.0))
    )

    assert window.comparison.translated.levels() == translated_before
    assert window.comparison.original.levels() != translated_before
