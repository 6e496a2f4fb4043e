"""The main window starts maximised on the first launch and as it was left afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import qasync
from PySide6.QtCore import QRect
from pytestqt.qtbot import QtBot

from viewer.main_window import MainWindow
from viewer.settings import ViewerSettings

Launch = Callable[[], MainWindow]


@pytest.fixture
def launch(
    qtbot: QtBot, qasync_loop: qasync.QEventLoop, settings: ViewerSettings
) -> Iterator[Launch]:
    """``launch()``: start the window as the app does, with the test's own settings file."""
    windows: list[MainWindow] = []

    def start() -> MainWindow:
        window = MainWindow(settings)
        windows.append(window)
        window.show_window()
        qtbot.waitExposed(window)
        return window

    yield start
    for window in windows:
        window.close()
        window.deleteLater()


def test_the_first_launch_is_maximised(launch: Launch, settings: ViewerSettings) -> None:
    assert settings.geometry is None
    window = launch()
    assert window.isMaximized()


def test_a_later_launch_restores_the_geometry_and_the_docks(
    launch: Launch, settings: ViewerSettings, qtbot: QtBot
) -> None:
    first = launch()
    first.showNormal()
    geometry = QRect(0, 40, 1100, 700)
    first.setGeometry(geometry)
    qtbot.waitUntil(lambda: first.geometry() == geometry)
    first._folder_dock.show()
    first.close()
    assert settings.geometry is not None

    second = launch()
    assert not second.isMaximized()
    assert second._folder_dock.isVisible()
    # The offscreen screen is 800 pixels wide, narrower than the window can be: Qt fits a
    # restored window into the screen sideways, so only its height and top are exact here.
    restored = second.geometry()
    assert (restored.top(), restored.height()) == (geometry.top(), geometry.height())
    assert restored.width() >= min(geometry.width(), second.screen().availableSize().width())


def test_a_window_closed_maximised_comes_back_maximised(
    launch: Launch, settings: ViewerSettings
) -> None:
    first = launch()
    assert first.isMaximized()
    first.close()

    second = launch()
    assert second.isMaximized()
