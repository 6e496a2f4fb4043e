"""The widgets the session's controllers drive; the main window builds and lays them out."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QDockWidget, QMainWindow

from viewer.banner import AlertBanner
from viewer.comparison_panel import ComparisonPanel
from viewer.explanation_panel import ExplanationPanel
from viewer.folder_panel import FolderPanel
from viewer.recent_menu import RecentFilesMenu
from viewer.statistics_panel import StatisticsPanel


@dataclass(frozen=True, slots=True)
class WindowParts:
    """``window`` parents the dialogs, and its status bar says what happened (``say``)."""

    window: QMainWindow
    banner: AlertBanner
    comparison: ComparisonPanel
    explanation_panel: ExplanationPanel
    statistics_panel: StatisticsPanel
    folder_panel: FolderPanel
    folder_dock: QDockWidget
    recent_files: RecentFilesMenu

    def say(self, message: str, timeout_ms: int = 0) -> None:
        """Show ``message`` in the status bar (until the next one when ``timeout_ms`` is 0)."""
        self.window.statusBar().showMessage(message, timeout_ms)
