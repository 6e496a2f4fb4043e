"""The main window: the panes and docks, the menus and the status bar, wired to the session.

What is shown lives in the ``ViewerState`` (the panels draw it; the settings adapter stores its
display options); opening, explaining, exporting and the PACS are the ``Session``'s. The signals
here are the window's face to the app, the benchmarks and the tests, which reach what the window
holds through its owners: ``window.state``, ``window.session`` (and its ``explanations``,
``exports`` and ``pacs``), ``window.help`` and ``window.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from engine.api import load_radiograph
from viewer.about_dialog import model_checksums
from viewer.banner import AlertBanner
from viewer.comparison_panel import ComparisonPanel
from viewer.display_panel import DisplayPanel
from viewer.error_reporter import ErrorReporter
from viewer.explanation import ExplanationProvider
from viewer.explanation_panel import ExplanationPanel
from viewer.folder_panel import FolderPanel
from viewer.help_dialogs import HelpDialogs
from viewer.job_progress import JobProgress
from viewer.preset_actions import PresetActions
from viewer.recent_menu import RecentFilesMenu
from viewer.session import Loader, Session
from viewer.settings import ViewerSettings
from viewer.settings_adapter import SettingsAdapter
from viewer.shortcuts import Command, KeySpec, key_sequences, shortcut_for
from viewer.state import ViewerState
from viewer.statistics_panel import StatisticsPanel
from viewer.window_parts import WindowParts

APP_NAME = "cxr-explain"
RESEARCH_NOTICE = "Research use only; default models trained on synthetic data"
DOCK_WIDTH = 360  # initial width of the explanation / statistics docks, pixels


class MainWindow(QMainWindow):
    """Original | translated | difference with explanation controls.

    ``loader`` reads one image (the engine's ``load_radiograph`` unless a test injects another);
    ``explainer`` computes an explanation, or None while no models are loaded; when it is a
    ``FeatureExplainer`` its FIGAN features are listed beside the directions once the first
    explanation is asked for. ``models_dir`` is the model folder whose cards Help > About shows.
    """

    image_opened = Signal(str)
    explanation_shown = Signal()
    exported = Signal(str)  # path of the written file
    results_sent = Signal(int)  # DICOM objects stored in the PACS
    folder_listed = Signal(str)
    folder_scanned = Signal(str)  # every file of the folder was described (thumbnails, groups)
    error_reported = Signal(str)
    explanation_status_changed = Signal(str)  # the new ExplanationState's value

    def __init__(
        self,
        settings: ViewerSettings,
        *,
        loader: Loader = load_radiograph,
        explainer: ExplanationProvider | None = None,
        models_dir: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.state = ViewerState()
        # The stored display options first: the panels start from them.
        self.settings_adapter = SettingsAdapter(settings, self.state.display)
        self.settings_adapter.attach()

        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks)
        self.banner = AlertBanner()
        self.comparison = ComparisonPanel(self.state)
        self.setCentralWidget(self._build_central())
        self.explanation_panel = ExplanationPanel()
        self.explanation_panel.set_model_checksums(model_checksums(models_dir))
        self.display_panel = DisplayPanel(self.state.display)
        self.folder_panel = FolderPanel()
        self.statistics_panel = StatisticsPanel()
        right, left = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea
        self._controls_dock = self._dock("Explanation", "explanationDock", self._controls(), right)
        self._statistics_dock = self._dock(
            "Lung statistics", "statisticsDock", self.statistics_panel, right
        )
        self.tabifyDockWidget(self._controls_dock, self._statistics_dock)
        self._controls_dock.raise_()
        self._folder_dock = self._dock("Folder", "folderDock", self.folder_panel, left)
        self._folder_dock.hide()
        self.help = HelpDialogs(
            self, self.state, models_dir, app_name=APP_NAME, notice=RESEARCH_NOTICE
        )
        self.errors = ErrorReporter(self, APP_NAME)
        self.recent_menu = QMenu("&Recent Files", self)
        parts = WindowParts(
            window=self,
            banner=self.banner,
            comparison=self.comparison,
            explanation_panel=self.explanation_panel,
            statistics_panel=self.statistics_panel,
            folder_panel=self.folder_panel,
            folder_dock=self._folder_dock,
            recent_files=RecentFilesMenu(self.recent_menu, settings),
        )
        self.session = Session(
            self.state, settings, parts, self.errors, loader=loader, explainer=explainer
        )
        self._build_status_bar()
        self._build_menus()
        self._connect()
        self._restore_window()

    # Construction.
    def _build_central(self) -> QWidget:
        """The banner above the three panes; a snapshot grabs both, so an invalid explanation
        cannot be exported without its warning."""
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.comparison, 1)
        return central

    def _controls(self) -> QWidget:
        container = QWidget()
        layout = QVBoxLayout(container)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.explanation_panel)
        layout.addWidget(self.display_panel)
        layout.addStretch(1)
        return container

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """A dock in ``area``; those on the right (explanation, statistics) do not float."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState find it by name
        dock.setWidget(widget)
        if area is Qt.DockWidgetArea.RightDockWidgetArea:
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        progress = JobProgress(self.session.jobs, self.session.cancel_jobs, self)
        self.progress_bar, self.cancel_button = progress.progress_bar, progress.cancel_button
        notice = QLabel("RESEARCH USE ONLY")
        notice.setObjectName("researchNotice")
        notice.setToolTip(RESEARCH_NOTICE)
        for widget in (self.progress_bar, self.cancel_button, notice):
            self.statusBar().addPermanentWidget(widget)

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[[], object],
        command: Command | None = None,
        keys: tuple[KeySpec, ...] | None = None,
    ) -> QAction:
        """A menu item bound to ``slot``; its keys are ``command``'s in the shortcut table
        (``keys``: a part of them, for a command spread over several actions)."""
        action = QAction(text, self)
        if command is not None:
            shortcut = shortcut_for(command)
            bound = shortcut if keys is None else replace(shortcut, keys=keys)
            action.setShortcuts(key_sequences(bound))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)  # shortcuts work while the menu bar is hidden, too
        return action

    def _build_menus(self) -> None:
        session, comparison, panel = self.session, self.comparison, self.explanation_panel
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open…", session.ask_and_open_path, Command.OPEN)
        self._action(file_menu, "Open &Folder…", session.ask_and_open_folder, Command.OPEN_FOLDER)
        self._action(file_menu, "Open &Sample", session.open_sample)
        self._action(file_menu, "Open from &PACS…", session.pacs.open_pacs_dialog)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        self._action(file_menu, "&Export…", session.exports.export, Command.EXPORT)
        self._action(file_menu, "Send Results to PA&CS", session.pacs.send_results_to_pacs)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, Command.QUIT)

        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Fit to Window", comparison.fit, Command.FIT)
        self._action(view_menu, "&Reset View", comparison.reset, Command.RESET)
        self._action(view_menu, "&Invert", comparison.toggle_invert, Command.INVERT)
        self.presets = PresetActions(view_menu.addMenu("Window &Presets"), self._action, self.state)
        view_menu.addSeparator()
        self._action(view_menu, "&Play / Pause", panel.toggle_playing, Command.PLAY)
        self._action(view_menu, "&Next Frame", lambda: panel.step(1), Command.NEXT_FRAME)
        self._action(view_menu, "Pre&vious Frame", lambda: panel.step(-1), Command.PREVIOUS_FRAME)
        self.explain_action = self._action(
            view_menu,
            "Compute &Explanation",
            session.explanations.compute_explanation,
            Command.EXPLAIN,
        )
        self._action(view_menu, "&Cancel Job", session.cancel_jobs, Command.CANCEL)
        view_menu.addSeparator()
        view_menu.addAction(self._controls_dock.toggleViewAction())
        view_menu.addAction(self._statistics_dock.toggleViewAction())
        view_menu.addAction(self._folder_dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", self.help.show_shortcuts, Command.SHORTCUTS)
        self._action(help_menu, "&About cxr-explain", self.help.show_about)

    def _connect(self) -> None:
        session = self.session
        for source, target in (
            (session.image_opened, self.image_opened),
            (session.explanations.explanation_shown, self.explanation_shown),
            (session.exports.exported, self.exported),
            (session.pacs.results_sent, self.results_sent),
            (session.folder_listed, self.folder_listed),
            (session.folder_scanned, self.folder_scanned),
            (self.errors.error_reported, self.error_reported),
            (session.explanation_status_changed, self.explanation_status_changed),
        ):
            source.connect(target)
        session.explanations.explanation_shown.connect(self.help.show_models_in_use)
        self.explanation_panel.frame_changed.connect(self.comparison.show_frame)
        self.state.events.path.connect(self._on_state_path_changed)

    def _restore_window(self) -> None:
        settings = self.settings
        if settings.geometry is not None:
            self.restoreGeometry(settings.geometry)
        else:  # the size it returns to from maximised (show_window) on the first launch
            self.resize(1500, 860)
        # The side docks start narrow: the panes are what is read.
        self.resizeDocks([self._controls_dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
        if settings.window_state is not None:
            self.restoreState(settings.window_state)

    def show_window(self) -> None:
        """Show the window as the user left it (its geometry, maximised or not, and the docks),
        or maximised on the first launch: the panes are what is read, and three radiographs
        side by side need the whole screen."""
        if self.settings.geometry is None:
            # Also as large as the screen when not maximised: an X server without a window
            # manager (Xvfb, kiosks) keeps the maximised flag but not the size.
            self.setGeometry(self.screen().availableGeometry())
            self.showMaximized()
        else:
            self.show()  # restoreGeometry brought a maximised window back maximised

    # Slots.
    def _on_state_path_changed(self, path: Path | None) -> None:
        self.setWindowTitle(f"{path.name} — {APP_NAME}" if path is not None else APP_NAME)

    # Qt events.
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if _local_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = _local_paths(event)
        if not paths:
            return
        event.acceptProposedAction()
        if paths[0].is_dir():
            self.session.open_folder(str(paths[0]))
        else:
            self.session.open_path(str(paths[0]))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.explanation_panel.set_playing(False)
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()
        self.session.shutdown()
        super().closeEvent(event)


def _local_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
