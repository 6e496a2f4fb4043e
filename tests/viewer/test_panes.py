"""Mouse map, linked views, crosshair readout and keyboard shortcuts of the three panes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from viewer_fakes import FakeClickEvent, FakeDragEvent, FakeWheelEvent, fake_explainer

from engine.api import sample_radiograph_path
from viewer.image_pane import Corner
from viewer.main_window import MainWindow


def _center_width(window: MainWindow) -> tuple[float, float]:
    preset = window.comparison.preset()
    assert preset is not None
    return preset.center, preset.width


def _drag(window: MainWindow, delta: tuple[float, float]) -> None:
    view_box = window.comparison.original.view_box
    event = FakeDragEvent(Qt.MouseButton.LeftButton, delta, finish=True)
    view_box.mouseDragEvent(event)
    assert event.accepted


@pytest.fixture
def window(make_main_window: MakeMainWindow, open_sample) -> MainWindow:
    window = make_main_window()
    open_sample(window)
    return window


def test_left_drag_right_widens_and_down_raises_the_centre(window: MainWindow) -> None:
    center, width = _center_width(window)
    low, high = window.comparison.original.levels()

    _drag(window, (40.0, 0.0))
    center_after, width_after = _center_width(window)
    assert width_after > width
    assert center_after == pytest.approx(center)
    new_low, new_high = window.comparison.original.levels()
    assert new_high - new_low > high - low

    _drag(window, (0.0, 30.0))
    assert _center_width(window)[0] > center


def test_invert_direction_setting_reverses_the_drag(window: MainWindow) -> None:
    window.display_panel.invert_mouse_check.setChecked(True)
    center, width = _center_width(window)

    _drag(window, (40.0, 30.0))

    center_after, width_after = _center_width(window)
    assert width_after < width
    assert center_after < center
    assert window.settings.invert_mouse_direction is True


def test_middle_drag_pans_and_does_not_change_the_window(window: MainWindow) -> None:
    view_box = window.comparison.original.view_box
    before_range = view_box.viewRange()
    before_window = _center_width(window)

    view_box.mouseDragEvent(FakeDragEvent(Qt.MouseButton.MiddleButton, (50.0, 0.0)))

    assert view_box.viewRange()[0] != pytest.approx(before_range[0])
    assert _center_width(window) == before_window


def test_zoom_in_one_pane_is_followed_by_the_others(window: MainWindow) -> None:
    panes = window.comparison.panes
    translated = window.comparison.translated.view_box
    before = translated.viewRange()
    rows, columns = window.state.radiograph.shape
    center = translated.mapFromView(QPointF(columns / 2, rows / 2))

    event = FakeWheelEvent(240, center)
    translated.wheelEvent(event)

    after = translated.viewRange()
    assert after[0][1] - after[0][0] < before[0][1] - before[0][0]  # zoomed in
    # Same scale, same centre.
    for pane in panes.values():
        (x0, x1), (y0, y1) = pane.view_box.viewRange()
        np.testing.assert_allclose((y0, y1), after[1], rtol=1e-6)
        assert (x0 + x1) / 2 == pytest.approx(sum(after[0]) / 2)
        assert pane.zoom_percent() == pytest.approx(window.comparison.translated.zoom_percent())


def test_double_click_fits_the_image(window: MainWindow) -> None:
    view_box = window.comparison.original.view_box
    view_box.scaleBy((0.25, 0.25))
    zoomed = view_box.viewRange()

    view_box.mouseClickEvent(FakeClickEvent(Qt.MouseButton.LeftButton, double=True))

    (x0, x1), (y0, y1) = view_box.viewRange()
    assert (x1 - x0) > zoomed[0][1] - zoomed[0][0]
    rows, columns = window.state.radiograph.shape
    # The whole image is visible (aspect locked: one axis fits exactly, the other has margin).
    assert x0 <= 0.5
    assert x1 >= columns - 0.5
    assert y0 <= 0.5
    assert y1 >= rows - 0.5


def test_crosshair_reads_the_pixel_under_the_cursor_in_every_pane(window: MainWindow) -> None:
    row, column = 300, 200
    original = window.comparison.original

    original.graphics.scene().sigMouseMoved.emit(original.scene_point(row + 0.5, column + 0.5))

    value = float(window.state.radiograph.pixels[row, column])
    readout = original.corner_text(Corner.BOTTOM_LEFT)
    assert f"Row {row}" in readout
    assert f"Col {column}" in readout
    assert f"{value:.5g}" in readout
    for pane in window.comparison.panes.values():
        assert pane.crosshair_visible() == pane.has_image
    vertical, horizontal = original._crosshair
    assert vertical.value() == column + 0.5
    assert horizontal.value() == row + 0.5


def test_keys_invert_reset_and_presets(window: MainWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    comparison = window.comparison
    presets = window.state.radiograph.presets
    default = presets[0]
    auto = next(preset for preset in presets if preset.name == "auto")
    others = [preset for preset in presets if preset is not auto]

    qtbot.keyClick(window, Qt.Key.Key_I)
    assert comparison.inverted
    assert window.comparison.original.image_item.lut[0, 0] == 255

    _drag(window, (60.0, 0.0))
    qtbot.keyClick(window, Qt.Key.Key_0)
    assert comparison.preset() is auto
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert comparison.preset() is others[0]

    _drag(window, (60.0, 0.0))
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert comparison.preset() is default
    assert not comparison.inverted

    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    # Ctrl+E reached export: with an image but no explanation only the PNG snapshot is offered.
    dialog = window.session.exports.export_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.kind.value == "png"
    dialog.reject()


def test_annotations_show_window_zoom_and_size(window: MainWindow) -> None:
    original = window.comparison.original
    top_right = original.corner_text(Corner.TOP_RIGHT)
    preset = window.state.radiograph.presets[0]
    assert f"W {preset.width:.5g}" in top_right
    assert "Zoom " in top_right
    info = window.state.radiograph.info
    assert f"{info.columns} \u00d7 {info.rows} px" in original.corner_text(Corner.TOP_LEFT)


@pytest.fixture
def explained(make_main_window: MakeMainWindow, qtbot: QtBot) -> MainWindow:
    """The sample with the fake explanation shown."""
    window = make_main_window(explainer=fake_explainer)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    return window


def _hover(window: MainWindow, row: int, column: int) -> None:
    original = window.comparison.original
    original.graphics.scene().sigMouseMoved.emit(original.scene_point(row + 0.5, column + 0.5))


def _cursor_graphics(window: MainWindow) -> list[tuple[bool, str]]:
    """(crosshair shown, readout text) of every pane."""
    return [
        (pane.crosshair_visible(), pane.corner_text(Corner.BOTTOM_LEFT))
        for pane in window.comparison.panes.values()
    ]


def test_a_new_image_clears_the_crosshair_and_the_readout(
    explained: MainWindow, qtbot: QtBot
) -> None:
    _hover(explained, 300, 200)
    assert all(shown and "Row 300" in text for shown, text in _cursor_graphics(explained))

    with qtbot.waitSignal(explained.image_opened, timeout=LOAD_TIMEOUT_MS):
        explained.session.open_path(str(sample_radiograph_path()))

    assert _cursor_graphics(explained) == [(False, "")] * 3


def test_clearing_the_explanation_clears_the_crosshair_and_the_readout(
    explained: MainWindow,
) -> None:
    _hover(explained, 300, 200)

    explained.explanation_panel.direction_combo.setCurrentIndex(1)  # recomputes: cleared now

    assert explained.comparison.explanation is None
    assert _cursor_graphics(explained) == [(False, "")] * 3


def test_leaving_a_pane_removes_the_crosshair_from_every_pane(explained: MainWindow) -> None:
    _hover(explained, 300, 200)

    # Out of the window: the scene reports no further move, only the widget's Leave event.
    QApplication.sendEvent(explained.comparison.translated, QEvent(QEvent.Type.Leave))

    assert _cursor_graphics(explained) == [(False, "")] * 3


def _view_sizes(window: MainWindow) -> list[tuple[float, float]]:
    return [
        (pane.view_box.width(), pane.view_box.height()) for pane in window.comparison.panes.values()
    ]


def test_the_three_panes_have_the_same_image_area(explained: MainWindow) -> None:
    colorbar = explained.comparison.difference.colorbar
    assert colorbar is not None
    assert colorbar.isVisible()
    widths, heights = zip(*_view_sizes(explained), strict=True)
    # The layout splits odd pixels: one pixel is all that may differ.
    assert max(widths) - min(widths) <= 1.0
    assert max(heights) == min(heights)


def test_the_colour_bar_covers_no_anatomy_of_the_fitted_image(
    explained: MainWindow, qtbot: QtBot
) -> None:
    pane = explained.comparison.difference
    view = pane.view_box
    assert view.height() > 1.5 * view.width()  # portrait panes: a band above the image
    image_top = view.mapViewToScene(QPointF(0.0, 0.0)).y()

    def above_the_image() -> None:
        bar = pane.colorbar.sceneBoundingRect()
        assert bar.height() >= 100.0
        assert bar.bottom() <= image_top
        assert bar.right() <= view.sceneBoundingRect().right()

    qtbot.waitUntil(above_the_image)  # laid out on the next pass of the event loop


def _fills_its_pane(window: MainWindow) -> bool:
    """Every pane shows the whole image, and it fills the view's limiting dimension."""
    rows, columns = window.state.radiograph.shape
    for pane in window.comparison.panes.values():
        view = pane.view_box
        fitted = 100.0 * min(view.width() / columns, view.height() / rows)
        if abs(pane.zoom_percent() - fitted) > 0.01 * fitted:
            return False
        (x0, x1), (y0, y1) = view.viewRange()
        slack = 2.0  # image pixels: a pane one screen pixel wider than the others
        if x0 > slack or y0 > slack or x1 < columns - slack or y1 < rows - slack:
            return False
    return True


@pytest.mark.parametrize("size", [(1920, 1080), (1100, 1000), (1400, 800)])
def test_fit_fills_every_pane_after_the_window_is_resized(
    make_main_window: MakeMainWindow, qtbot: QtBot, size: tuple[int, int]
) -> None:
    window = make_main_window(explainer=fake_explainer)
    window.resize(700, 500)  # opened small, as before a window manager maximises it
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    qtbot.waitUntil(lambda: _fills_its_pane(window))

    for step in ((1920, 1080), (1200, 900), size):
        window.resize(*step)
        qtbot.waitUntil(lambda step=step: window.size().toTuple() == step)
    qtbot.waitUntil(lambda: _fills_its_pane(window), timeout=2000)

    window.comparison.original.view_box.scaleBy((0.5, 0.5))
    assert not _fills_its_pane(window)
    window.comparison.fit()
    assert _fills_its_pane(window)


def _right_drag(window: MainWindow, dy: float, steps: int = 10) -> None:
    """Drag with the right button by ``dy`` screen pixels, in ``steps`` moves."""
    view_box = window.comparison.original.view_box
    for step in range(steps):
        start = (200.0, 300.0 + step * dy / steps)
        event = FakeDragEvent(Qt.MouseButton.RightButton, (0.0, dy / steps), start=start)
        view_box.mouseDragEvent(event)
        assert event.accepted


def test_right_drag_zooms_twice_as_large_per_200_pixels(window: MainWindow) -> None:
    pane = window.comparison.original
    fitted = pane.zoom_percent()

    _right_drag(window, -200.0)  # up: in
    assert pane.zoom_percent() / fitted == pytest.approx(2.0, rel=0.02)

    _right_drag(window, 100.0)  # down: out
    assert pane.zoom_percent() / fitted == pytest.approx(2.0**0.5, rel=0.02)
    # The linked panes follow.
    assert window.comparison.translated.zoom_percent() == pytest.approx(pane.zoom_percent())


def test_the_wheel_zooms_in_modest_steps(window: MainWindow) -> None:
    pane = window.comparison.original
    view_box = pane.view_box
    rows, columns = window.state.radiograph.shape
    center = view_box.mapFromView(QPointF(columns / 2, rows / 2))
    fitted = pane.zoom_percent()

    view_box.wheelEvent(FakeWheelEvent(120, center))  # one notch
    step = pane.zoom_percent() / fitted
    assert 1.1 <= step <= 1.2

    view_box.wheelEvent(FakeWheelEvent(-120, center))
    assert pane.zoom_percent() == pytest.approx(fitted, rel=1e-3)
