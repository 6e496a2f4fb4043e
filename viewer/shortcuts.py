"""The viewer's keyboard shortcuts: one table that both binds the keys (the main window's actions)
and lists them (Help > Keyboard Shortcuts), so the list cannot drift from what the keys do.

The mouse map (``view_box``) is listed beside it; it is not key handling, so it is a plain table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtGui import QKeySequence

from viewer.explanation_status import EXPLAIN_SHORTCUT

KeySpec = QKeySequence.StandardKey | str


class Command(StrEnum):
    """What a shortcut does; the main window binds each to its slot."""

    OPEN = "open"
    OPEN_FOLDER = "open_folder"
    EXPORT = "export"
    QUIT = "quit"
    FIT = "fit"
    RESET = "reset"
    INVERT = "invert"
    PRESET = "preset"  # one key per preset: 0 = auto, 1..9 = the others in header order
    PLAY = "play"
    NEXT_FRAME = "next_frame"
    PREVIOUS_FRAME = "previous_frame"
    EXPLAIN = "explain"
    CANCEL = "cancel"
    SHORTCUTS = "shortcuts"


class ShortcutGroup(StrEnum):
    FILE = "File"
    VIEW = "View"
    EXPLANATION = "Explanation"
    HELP = "Help"


@dataclass(frozen=True, slots=True)
class Shortcut:
    command: Command
    keys: tuple[KeySpec, ...]
    description: str
    group: ShortcutGroup


PRESET_KEYS = tuple(str(key) for key in range(10))

SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(
        Command.OPEN, (QKeySequence.StandardKey.Open,), "Open a radiograph", ShortcutGroup.FILE
    ),
    Shortcut(
        Command.OPEN_FOLDER,
        ("Ctrl+Shift+O",),
        "Open a folder in the study browser",
        ShortcutGroup.FILE,
    ),
    Shortcut(
        Command.EXPORT,
        ("Ctrl+E",),
        "Export a GIF, a PNG snapshot or the lung statistics",
        ShortcutGroup.FILE,
    ),
    Shortcut(Command.QUIT, (QKeySequence.StandardKey.Quit,), "Quit", ShortcutGroup.FILE),
    Shortcut(Command.FIT, ("F",), "Fit the image to the panes", ShortcutGroup.VIEW),
    Shortcut(
        Command.RESET,
        ("R",),
        "Reset window, polarity, difference scale and zoom",
        ShortcutGroup.VIEW,
    ),
    Shortcut(Command.INVERT, ("I",), "Invert the grey scale", ShortcutGroup.VIEW),
    Shortcut(
        Command.PRESET,
        PRESET_KEYS,
        "Window presets: 0 = auto, 1 to 9 = the image's own presets",
        ShortcutGroup.VIEW,
    ),
    Shortcut(
        Command.PLAY, ("Space", "C"), "Play or pause the slider (cine)", ShortcutGroup.EXPLANATION
    ),
    Shortcut(Command.NEXT_FRAME, ("Right",), "Next slider frame", ShortcutGroup.EXPLANATION),
    Shortcut(Command.PREVIOUS_FRAME, ("Left",), "Previous slider frame", ShortcutGroup.EXPLANATION),
    Shortcut(
        Command.EXPLAIN,
        (EXPLAIN_SHORTCUT,),
        "Compute the explanation again (after a cancel or a failure)",
        ShortcutGroup.EXPLANATION,
    ),
    Shortcut(Command.CANCEL, ("Esc",), "Cancel the running job", ShortcutGroup.EXPLANATION),
    Shortcut(Command.SHORTCUTS, ("?", "F1"), "This list of shortcuts", ShortcutGroup.HELP),
)

# (gesture, what it does) in the image panes: viewer.view_box's mouse map.
MOUSE_BINDINGS: tuple[tuple[str, str], ...] = (
    ("Left-drag", "Window/level (difference pane: its scale)"),
    ("Middle-drag", "Pan"),
    ("Right-drag up / down", "Zoom in / out (x2 per 200 pixels)"),
    ("Wheel", "Zoom in / out"),
    ("Double-click", "Fit the image to the panes"),
)


def shortcut_for(command: Command) -> Shortcut:
    return _BY_COMMAND[command]


def key_sequences(shortcut: Shortcut) -> list[QKeySequence]:
    """The key sequences that trigger ``shortcut`` (what its action binds)."""
    return [QKeySequence(key) for key in shortcut.keys]


def key_text(sequence: QKeySequence) -> str:
    """How the keys are written for the user on this platform (Ctrl or ⌘, …)."""
    return sequence.toString(QKeySequence.SequenceFormat.NativeText)


_BY_COMMAND = {shortcut.command: shortcut for shortcut in SHORTCUTS}
if len(_BY_COMMAND) != len(SHORTCUTS):
    raise RuntimeError("each command has one row in SHORTCUTS")
