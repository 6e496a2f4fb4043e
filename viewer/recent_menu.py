"""File > Recent Files: the stored list of recently opened files, newest first."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu

from viewer.settings import ViewerSettings


class RecentFilesMenu(QObject):
    """Fills ``menu`` from ``settings``; choosing an entry emits ``file_chosen`` with its path."""

    file_chosen = Signal(str)

    def __init__(self, menu: QMenu, settings: ViewerSettings) -> None:
        super().__init__(menu)
        self.menu = menu
        self._settings = settings
        self.rebuild()

    def add(self, path: str) -> None:
        """Put ``path`` first in the stored list and in the menu."""
        self._settings.add_recent_file(path)
        self.rebuild()

    def rebuild(self) -> None:
        menu = self.menu
        menu.clear()
        files = self._settings.recent_files
        for path in files:
            action = menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, path=path: self.file_chosen.emit(path))
        if files:
            menu.addSeparator()
            menu.addAction("Clear Recent Files", self._on_clear_triggered)
        menu.setEnabled(bool(files))

    def _on_clear_triggered(self) -> None:
        self._settings.clear_recent_files()
        self.rebuild()
