"""Typed access to the viewer's persistent settings (a thin wrapper over ``QSettings``).

Every key lives here, with its type and default, so that no other module builds key strings.
Tests pass a ``QSettings`` backed by an INI file in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "cxr-explain"
APPLICATION = "viewer"
MAX_RECENT_FILES = 10


class ViewerSettings:
    """What the viewer remembers between sessions."""

    _GEOMETRY = "window/geometry"
    _STATE = "window/state"
    _LAST_FOLDER = "files/last_folder"
    _RECENT = "files/recent"
    _INVERT_MOUSE = "mouse/invert_window_direction"
    _LINK_WINDOW = "display/link_window"
    _DIVERGING = "display/diverging_difference"

    def __init__(self, store: QSettings) -> None:
        self._store = store

    @classmethod
    def for_user(cls) -> ViewerSettings:
        """The user's own settings (registry, plist or ``~/.config`` by platform)."""
        return cls(QSettings(ORGANIZATION, APPLICATION))

    @classmethod
    def in_file(cls, path: Path) -> ViewerSettings:
        """Settings kept in one INI file (tests, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def sync(self) -> None:
        self._store.sync()

    # Window geometry and dock layout, as Qt's opaque blobs.
    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes(self._GEOMETRY)

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._store.setValue(self._GEOMETRY, value)

    @property
    def window_state(self) -> QByteArray | None:
        return self._bytes(self._STATE)

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._store.setValue(self._STATE, value)

    @property
    def last_folder(self) -> str:
        return str(self._store.value(self._LAST_FOLDER, "", type=str))

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self._store.setValue(self._LAST_FOLDER, value)

    @property
    def recent_files(self) -> list[str]:
        value = self._store.value(self._RECENT, [])
        if isinstance(value, str):  # INI files return a one-element list as a plain string
            value = [value] if value else []
        return [str(item) for item in value or []][:MAX_RECENT_FILES]

    def add_recent_file(self, path: str) -> list[str]:
        """Put ``path`` first in the recent-files list (no duplicates) and return the list."""
        files = [path, *(item for item in self.recent_files if item != path)][:MAX_RECENT_FILES]
        self._store.setValue(self._RECENT, files)
        return files

    def clear_recent_files(self) -> None:
        self._store.setValue(self._RECENT, [])

    @property
    def invert_mouse_direction(self) -> bool:
        """Reverse the window/level drag directions (some readers expect the opposite)."""
        return bool(self._store.value(self._INVERT_MOUSE, False, type=bool))

    @invert_mouse_direction.setter
    def invert_mouse_direction(self, value: bool) -> None:
        self._store.setValue(self._INVERT_MOUSE, bool(value))

    @property
    def link_window(self) -> bool:
        """Original and translated panes share one window/level."""
        return bool(self._store.value(self._LINK_WINDOW, True, type=bool))

    @link_window.setter
    def link_window(self, value: bool) -> None:
        self._store.setValue(self._LINK_WINDOW, bool(value))

    @property
    def diverging_difference(self) -> bool:
        """Show the difference with a blue-white-red map instead of gray."""
        return bool(self._store.value(self._DIVERGING, False, type=bool))

    @diverging_difference.setter
    def diverging_difference(self, value: bool) -> None:
        self._store.setValue(self._DIVERGING, bool(value))

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None
