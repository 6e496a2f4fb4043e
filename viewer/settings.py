"""Typed access to the viewer's persistent settings (a thin wrapper over ``QSettings``).

Every key lives here, with its type and default, so that no other module builds key strings.
Tests pass a ``QSettings`` backed by an INI file in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from viewer.overlays import DEFAULT_OVERLAY_OPACITY, Attribution
from viewer.pacs_dialog import PacsServerSpec, Protocol

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
    _LUNG_CONTOUR = "display/lung_contour"
    _STATISTICS = "display/statistics_overlay"
    _ATTRIBUTION = "display/attribution_overlay"
    _OPACITY = "display/overlay_opacity"
    _PACS = "pacs/server"

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
        if not isinstance(value, list | tuple):  # a damaged settings file: no recent files
            return []
        return [str(item) for item in value][:MAX_RECENT_FILES]

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

    @property
    def lung_contour(self) -> bool:
        return bool(self._store.value(self._LUNG_CONTOUR, False, type=bool))

    @lung_contour.setter
    def lung_contour(self, value: bool) -> None:
        self._store.setValue(self._LUNG_CONTOUR, bool(value))

    @property
    def statistics_overlay(self) -> bool:
        """Lung brightness statistics in the difference pane's corner."""
        return bool(self._store.value(self._STATISTICS, True, type=bool))

    @statistics_overlay.setter
    def statistics_overlay(self, value: bool) -> None:
        self._store.setValue(self._STATISTICS, bool(value))

    @property
    def attribution_overlay(self) -> Attribution:
        """Which attribution heat map the original pane shows; an unknown stored value is NONE."""
        value = str(self._store.value(self._ATTRIBUTION, Attribution.NONE.value, type=str))
        try:
            return Attribution(value)
        except ValueError:
            return Attribution.NONE

    @attribution_overlay.setter
    def attribution_overlay(self, value: Attribution) -> None:
        self._store.setValue(self._ATTRIBUTION, Attribution(value).value)

    @property
    def overlay_opacity(self) -> float:
        try:
            # Through str: the store may hold a number, its text, or anything a damaged file held.
            value = float(str(self._store.value(self._OPACITY, DEFAULT_OVERLAY_OPACITY)))
        except (TypeError, ValueError):
            return DEFAULT_OVERLAY_OPACITY
        return min(max(value, 0.0), 1.0) if value == value else DEFAULT_OVERLAY_OPACITY

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self._store.setValue(self._OPACITY, float(value))

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # The PACS of File > Open from PACS (no password: none is ever stored).
    @property
    def pacs_server(self) -> PacsServerSpec:
        stored = self._store.value(self._PACS)
        default = PacsServerSpec()
        if not isinstance(stored, dict):
            return default
        try:
            return PacsServerSpec(
                protocol=Protocol[str(stored.get("protocol", default.protocol.name))],
                host=str(stored.get("host", default.host)),
                port=int(stored.get("port", default.port)),
                called_aet=str(stored.get("called_aet", default.called_aet)),
                calling_aet=str(stored.get("calling_aet", default.calling_aet)),
                url=str(stored.get("url", default.url)),
            )
        except (KeyError, TypeError, ValueError):
            return default

    @pacs_server.setter
    def pacs_server(self, spec: PacsServerSpec) -> None:
        self._store.setValue(
            self._PACS,
            {
                "protocol": spec.protocol.name,
                "host": spec.host,
                "port": spec.port,
                "called_aet": spec.called_aet,
                "calling_aet": spec.calling_aet,
                "url": spec.url,
            },
        )
