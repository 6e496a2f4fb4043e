"""Help > Keyboard Shortcuts: generated from the table that binds the keys, opened by ? and F1."""

from __future__ import annotations

import pytest
from conftest import MakeMainWindow
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from viewer.main_window import MainWindow
from viewer.shortcuts import SHORTCUTS, key_text


def _bound_keys(window: MainWindow) -> set[str]:
    """Every key sequence the window's key handling (its actions) reacts to."""
    return {key_text(sequence) for action in window.actions() for sequence in action.shortcuts()}


def test_the_dialog_lists_exactly_the_keys_the_window_handles(
    make_main_window: MakeMainWindow,
) -> None:
    window = make_main_window()
    window.help.show_shortcuts()
    dialog = window.help.shortcuts_dialog
    assert dialog is not None
    assert dialog.isVisible()

    bound = _bound_keys(window)
    listed = dialog.listed_keys()
    assert bound - listed == set(), "bound but not listed"
    assert listed - bound == set(), "listed but not bound"
    assert {"?", "F1", "Esc", "Space", "0", "9"} <= listed
    # Every row of the table has a description in the dialog.
    descriptions = {dialog.table.item(row, 1).text() for row in range(dialog.table.rowCount())}
    assert {shortcut.description for shortcut in SHORTCUTS} <= descriptions
    dialog.close()


@pytest.mark.parametrize("key", [Qt.Key.Key_Question, Qt.Key.Key_F1])
def test_question_mark_and_f1_open_the_shortcuts(
    make_main_window: MakeMainWindow, qtbot: QtBot, key: Qt.Key
) -> None:
    window = make_main_window()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)

    qtbot.keyClick(window, key)

    qtbot.waitUntil(lambda: window.help.shortcuts_dialog is not None)
    assert window.help.shortcuts_dialog.isVisible()
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert "&Keyboard Shortcuts" in [action.text() for action in help_menu.actions()]
    window.help.shortcuts_dialog.close()
