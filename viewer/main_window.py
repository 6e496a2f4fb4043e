"""The main window: menus, docks, status bar, and the jobs that load and explain images.

Every engine call runs on the ``JobRunner``'s worker thread; the slots here await it through
qasync and touch widgets only after the await, on the GUI thread.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from engine.api import (
    EngineError,
    ExplanationResult,
    Radiograph,
    VoiPreset,
    load_radiograph,
    redact,
    sample_radiograph_path,
)
from viewer.about_dialog import AboutDialog, model_checksums
from viewer.banner import AlertBanner
from viewer.colormaps import DifferenceMap
from viewer.comparison_panel import ComparisonPanel
from viewer.display_panel import DisplayPanel
from viewer.explanation import (
    NO_EXPLANATION_TEXT,
    Direction,
    Explanation,
    ExplanationChoice,
    ExplanationProvider,
    Feature,
    engine_result,
    explanation_alerts,
    feature_explainer,
)
from viewer.explanation_panel import ExplanationPanel
from viewer.explanation_status import (
    CANCELLED,
    NO_IMAGE,
    NO_MODELS,
    READY,
    ExplanationState,
    ExplanationStatus,
    computing,
    failed,
    loading,
)
from viewer.export import (
    DEFAULT_NAMES,
    ExportKind,
    ExportRequest,
    with_suffix,
    write_dicom_export,
    write_gif_export,
    write_png_snapshot,
    write_statistics,
)
from viewer.export_dialog import ExportDialog
from viewer.feature_bridge import feature_exploration, write_feature_gif
from viewer.feature_cache import FeatureCache, ImageKey, image_key
from viewer.feature_run_dialog import FeatureRunDialog, feature_estimate
from viewer.folder_panel import FolderPanel, list_image_candidates
from viewer.overlays import Attribution
from viewer.pacs_dialog import PacsDialog, PacsServerSpec, Protocol
from viewer.settings import ViewerSettings
from viewer.shortcuts import PRESET_KEYS, Command, KeySpec, key_sequences, shortcut_for
from viewer.shortcuts_dialog import ShortcutsDialog
from viewer.statistics_panel import StatisticsPanel
from viewer.statistics_report import StatisticsReport, report_of
from viewer.study_browser import Group, describe_image
from viewer.worker import JobChannel, JobContext, JobRunner, SupersededError

log = logging.getLogger(__name__)

APP_NAME = "cxr-explain"
RESEARCH_NOTICE = "Research use only; default models trained on synthetic data"
OPEN_FILTERS = (
    "Images (*.dcm *.dicom *.png *.jpg *.jpeg *.tif *.tiff)",
    "DICOM (*.dcm *.dicom)",
    "PNG (*.png)",
    "JPEG (*.jpg *.jpeg)",
    "TIFF (*.tif *.tiff)",
    "All files (*)",
)
DOCK_WIDTH = 360  # initial width of the explanation / statistics docks, pixels

Loader = Callable[[Path], Radiograph]
# Asks where to save an export: (kind, suggested path) -> chosen path, or None when cancelled.
SavePathChooser = Callable[[QWidget, ExportKind, str], str | None]


# Asks before identified results leave the machine: (parent, question) -> go ahead.
SendConfirmation = Callable[[QWidget, str], bool]


def ask_to_send(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "Send Results to PACS", question)
    return answer == QMessageBox.StandardButton.Yes


def ask_save_path(parent: QWidget, kind: ExportKind, suggested: str) -> str | None:
    if kind.is_folder:
        folder = QFileDialog.getExistingDirectory(
            parent, "Export DICOM objects into a folder", str(Path(suggested).parent)
        )
        return folder or None
    path, _ = QFileDialog.getSaveFileName(parent, "Export", suggested, kind.file_filter)
    return path or None


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
        self._loader = loader
        self._explainer = explainer
        # Whether the explainer's FIGAN features were listed already (found unusable, or there
        # are none to list: the explainer is no FeatureExplainer).
        self._features_listed = feature_explainer(explainer) is None
        self._models_dir = models_dir
        self._path: Path | None = None
        self._opens = 0  # images asked for so far: a folder scan opens one only if none was since
        # Feature mode is per image: a new image goes back to the last direction chosen.
        self._direction: Direction = Direction.AUTO
        self._shown_choice: ExplanationChoice = Direction.AUTO  # shown or being computed
        self._image_key: ImageKey | None = None  # the shown file, for the feature cache
        self._feature_cache = FeatureCache()
        self._feature_seconds: float | None = None  # how long the last exploration took here
        self._status = NO_IMAGE
        # What was shown before an image started loading: back to it when the load fails.
        self._status_before_loading = NO_IMAGE
        self.jobs = JobRunner(self)
        self.choose_export_path: SavePathChooser = ask_save_path  # tests replace it
        self.confirm_send: SendConfirmation = ask_to_send  # tests replace it

        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks)
        self.banner = AlertBanner()
        self.comparison = ComparisonPanel()
        self.setCentralWidget(self._build_central())
        self.explanation_panel = ExplanationPanel()
        self.explanation_panel.set_model_checksums(model_checksums(models_dir))
        self.display_panel = DisplayPanel()
        self.folder_panel = FolderPanel()
        self.statistics_panel = StatisticsPanel()
        self._controls_dock = self._build_controls_dock()
        self._statistics_dock = self._build_statistics_dock()
        self._folder_dock = self._build_folder_dock()
        self._build_status_bar()
        self.error_dialog = QMessageBox(self)
        self.error_dialog.setIcon(QMessageBox.Icon.Warning)
        self.error_dialog.setWindowTitle(APP_NAME)
        self.about_dialog: AboutDialog | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.feature_dialog: FeatureRunDialog | None = None  # asks before an exploration
        self.export_dialog: ExportDialog | None = None
        self.pacs_dialog: PacsDialog | None = None
        # Where studies retrieved from a PACS are kept (one folder per study).
        self.pacs_cache = (
            Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation))
            / "pacs"
        )
        self._build_menus()
        self._connect()
        self._restore_settings()
        self._set_status(NO_IMAGE if self.has_explainer else NO_MODELS)

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

    def _build_statistics_dock(self) -> QDockWidget:
        dock = QDockWidget("Lung statistics", self)
        dock.setObjectName("statisticsDock")
        dock.setWidget(self.statistics_panel)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.tabifyDockWidget(self._controls_dock, dock)
        self._controls_dock.raise_()
        return dock

    def _build_controls_dock(self) -> QDockWidget:
        container = QWidget()
        layout = QVBoxLayout(container)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.explanation_panel)
        layout.addWidget(self.display_panel)
        layout.addStretch(1)
        dock = QDockWidget("Explanation", self)
        dock.setObjectName("explanationDock")
        dock.setWidget(container)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _build_folder_dock(self) -> QDockWidget:
        dock = QDockWidget("Folder", self)
        dock.setObjectName("folderDock")
        dock.setWidget(self.folder_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        dock.hide()
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(160)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        notice = QLabel("RESEARCH USE ONLY")
        notice.setObjectName("researchNotice")
        notice.setToolTip(RESEARCH_NOTICE)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(notice)
        self.progress_bar.hide()
        self.cancel_button.hide()

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
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open…", self._on_open_action_triggered, Command.OPEN)
        self._action(
            file_menu, "Open &Folder…", self._on_open_folder_action_triggered, Command.OPEN_FOLDER
        )
        self._action(file_menu, "Open &Sample", self.open_sample)
        self._action(file_menu, "Open from &PACS…", self.open_pacs_dialog)
        self.recent_menu = file_menu.addMenu("&Recent Files")
        file_menu.addSeparator()
        self._action(file_menu, "&Export…", self.export, Command.EXPORT)
        self._action(file_menu, "Send Results to PA&CS", self.send_results_to_pacs)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, Command.QUIT)

        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Fit to Window", self.comparison.fit, Command.FIT)
        self._action(view_menu, "&Reset View", self.comparison.reset, Command.RESET)
        self._action(view_menu, "&Invert", self.comparison.toggle_invert, Command.INVERT)
        presets_menu = view_menu.addMenu("Window &Presets")
        self.preset_actions = [
            self._action(
                presets_menu,
                f"Preset {index}",
                lambda index=index: self.apply_preset_key(index),
                Command.PRESET,
                (key,),
            )
            for index, key in enumerate(PRESET_KEYS)
        ]
        view_menu.addSeparator()
        self._action(
            view_menu, "&Play / Pause", self.explanation_panel.toggle_playing, Command.PLAY
        )
        self._action(
            view_menu, "&Next Frame", lambda: self.explanation_panel.step(1), Command.NEXT_FRAME
        )
        self._action(
            view_menu,
            "Pre&vious Frame",
            lambda: self.explanation_panel.step(-1),
            Command.PREVIOUS_FRAME,
        )
        self.explain_action = self._action(
            view_menu, "Compute &Explanation", self.compute_explanation, Command.EXPLAIN
        )
        self._action(view_menu, "&Cancel Job", self.cancel_jobs, Command.CANCEL)
        view_menu.addSeparator()
        view_menu.addAction(self._controls_dock.toggleViewAction())
        view_menu.addAction(self._statistics_dock.toggleViewAction())
        view_menu.addAction(self._folder_dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", self.show_shortcuts, Command.SHORTCUTS)
        self._action(help_menu, "&About cxr-explain", self.show_about)
        self._update_preset_actions()

    def _connect(self) -> None:
        self.jobs.busy_changed.connect(self._on_jobs_busy_changed)
        self.jobs.progress_changed.connect(self._on_jobs_progress_changed)
        self.cancel_button.clicked.connect(self.cancel_jobs)
        self.explanation_panel.frame_changed.connect(self.comparison.show_frame)
        self.explanation_panel.choice_changed.connect(self._on_explanation_choice_changed)
        self.display_panel.link_window_toggled.connect(self._on_display_link_window_toggled)
        self.display_panel.diverging_toggled.connect(self._on_display_diverging_toggled)
        self.display_panel.invert_mouse_toggled.connect(self._on_display_invert_mouse_toggled)
        self.display_panel.lung_contour_toggled.connect(self._on_display_lung_contour_toggled)
        self.display_panel.statistics_toggled.connect(self._on_display_statistics_toggled)
        self.display_panel.attribution_changed.connect(self._on_display_attribution_changed)
        self.display_panel.overlay_opacity_changed.connect(self._on_display_overlay_opacity_changed)
        self.folder_panel.file_activated.connect(self.open_path)

    def _restore_settings(self) -> None:
        settings = self.settings
        if settings.geometry is not None:
            self.restoreGeometry(settings.geometry)
        else:  # the size it returns to from maximised (show_window) on the first launch
            self.resize(1500, 860)
        # The side docks start narrow: the panes are what is read.
        self.resizeDocks([self._controls_dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
        if settings.window_state is not None:
            self.restoreState(settings.window_state)
        self.display_panel.set_values(
            link_window=settings.link_window,
            diverging=settings.diverging_difference,
            invert_mouse=settings.invert_mouse_direction,
            lung_contour=settings.lung_contour,
            statistics=settings.statistics_overlay,
            attribution=settings.attribution_overlay,
            overlay_opacity=settings.overlay_opacity,
        )
        self.comparison.set_link_window(settings.link_window)
        self.comparison.set_difference_map(_difference_map(settings.diverging_difference))
        self.comparison.set_invert_mouse_direction(settings.invert_mouse_direction)
        self.comparison.set_lung_contour_visible(settings.lung_contour)
        self.comparison.set_statistics_visible(settings.statistics_overlay)
        self.comparison.set_attribution(settings.attribution_overlay, settings.overlay_opacity)
        self._rebuild_recent_menu()

    # Public operations.
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

    @property
    def path(self) -> Path | None:
        """The file shown now."""
        return self._path

    @property
    def radiograph(self) -> Radiograph | None:
        return self.comparison.radiograph

    @property
    def has_explainer(self) -> bool:
        """Models are loaded: opening an image computes its explanation."""
        return self._explainer is not None

    @property
    def explanation_status(self) -> ExplanationStatus:
        """Where the shown image's explanation stands (what the panes and the panel say)."""
        return self._status

    @asyncSlot(str)
    async def open_path(self, path: str) -> None:
        """Load ``path`` on the worker and show it; a newer open supersedes this one."""
        file_path = Path(path)
        self._opens += 1
        self._begin_loading(file_path.name)
        loader = self._loader
        try:
            radiograph = await self.jobs.submit(JobChannel.IMAGE, lambda _job: loader(file_path))
        except SupersededError:
            return
        except EngineError as error:
            self._end_loading()
            self.report_error(f"Cannot open {file_path.name}: {error}")
            return
        except Exception as error:  # a bug, not a bad file: still never fatal
            self._end_loading()
            self.report_unexpected(f"Opening {file_path.name} failed", error)
            return
        self._show_radiograph(file_path, radiograph)

    def _begin_loading(self, name: str) -> None:
        if self._status.state is not ExplanationState.LOADING:
            self._status_before_loading = self._status
        if self._status.state is ExplanationState.COMPUTING:
            # Its result would be dropped once the new image shows, and the single worker would
            # make the image wait for it (a FIGAN feature takes a minute).
            self.jobs.cancel(JobChannel.EXPLANATION)
            self._status_before_loading = CANCELLED
        self._set_status(loading(name))

    def _end_loading(self) -> None:
        """The open failed or was cancelled: say again what was shown before."""
        if self._status.state is ExplanationState.LOADING:
            self._set_status(self._status_before_loading)

    def open_sample(self) -> None:
        self.open_path(str(sample_radiograph_path()))

    @asyncSlot(str)
    async def open_folder(self, folder: str) -> None:
        """List ``folder``'s files and those of its subfolders in the folder dock (on the
        worker), describe them one by one, and open the first readable image."""
        folder_path = Path(folder)
        try:
            files = await self.jobs.submit(
                JobChannel.FOLDER, lambda _job: list_image_candidates(folder_path)
            )
        except SupersededError:
            return
        except OSError as error:
            self.report_error(f"Cannot list {folder_path}: {error.strerror or error}")
            return
        except Exception as error:
            self.report_unexpected(f"Listing {folder_path} failed", error)
            return
        self.settings.last_folder = str(folder_path)
        self.folder_panel.set_folder(folder_path, files)
        self._folder_dock.show()
        self.statusBar().showMessage(f"{len(files)} files in {folder_path.name}", 5000)
        self.folder_listed.emit(str(folder_path))
        await self._scan_folder(folder_path, files)

    async def _scan_folder(self, folder: Path, files: list[Path]) -> None:
        """Describe the files one job at a time, so an explanation or an image the user opens
        meanwhile waits for one file at most; a newer folder (or Esc) supersedes the scan."""
        loader = self._loader
        opens = self._opens
        for path in files:
            try:
                entry = await self.jobs.submit(
                    JobChannel.BROWSER, lambda _job, path=path: describe_image(path, loader)
                )
            except SupersededError:
                return
            except Exception as error:  # a bug in describing one file: say so, keep the app
                self.report_unexpected(f"Reading {path.name} for the study browser failed", error)
                return
            self.folder_panel.add_entry(entry)
            # The first image that reads opens, unless the user opened one meanwhile.
            if self._opens == opens and entry.group is not Group.UNREADABLE:
                self.open_path(str(path))
        self.folder_panel.finish_scan()
        self.folder_scanned.emit(str(folder))

    def show_explanation(self, explanation: Explanation) -> None:
        """Show a finished explanation of the current image (the engine's wire-in point)."""
        self.comparison.show_explanation(explanation)
        self.explanation_panel.set_explanation(explanation)
        self.banner.set_alerts(explanation_alerts(explanation))
        if self.about_dialog is not None:
            self.about_dialog.set_models_in_use(explanation.model_name)
        self._set_status(READY)
        result = engine_result(explanation)
        report = self._statistics_of(result) if result is not None else None
        self.statistics_panel.set_report(report)
        caution = result.caution() if result is not None else None
        if caution is None:
            self.statusBar().showMessage("Explanation ready", 3000)
        else:  # stays until the next message: it describes what is on screen
            self.statusBar().showMessage(f"Explanation ready - caution: {caution}")
        self.explanation_shown.emit()

    def apply_preset_key(self, key: int) -> None:
        preset = self._preset_for_key(key)
        if preset is not None:
            self.comparison.apply_preset(preset)

    def cancel_jobs(self) -> None:
        """Esc: stop every job; an explanation it stops says so until it is computed again."""
        if not self.jobs.busy:
            return
        self.jobs.cancel()
        if self._status.state is ExplanationState.COMPUTING:
            self._set_status(CANCELLED)
            return
        self.statusBar().showMessage("Cancelled", 3000)
        self._end_loading()

    def compute_explanation(self) -> None:
        """E: compute the shown image's explanation again (after a cancel or a failure); nothing
        while one is being computed."""
        if self.comparison.radiograph is None:
            return
        if self._explainer is None:
            self.statusBar().showMessage(NO_EXPLANATION_TEXT, 5000)
            return
        if self._status.state is not ExplanationState.COMPUTING:
            self._restart_explanation()

    def export(self) -> None:
        """Ctrl+E: ask what to export (GIF, PNG snapshot, statistics) and where."""
        if self.comparison.radiograph is None:
            self.statusBar().showMessage("Nothing to export: no image is shown", 5000)
            return
        result = self._engine_result()
        exploration = feature_exploration(self.comparison.explanation)
        if result is not None:
            frame_count = len(result.primary.frames.frames)
        elif exploration is not None:
            frame_count = len(exploration.sequence.frames)
        else:
            frame_count = 0
        radiograph = self.comparison.radiograph
        dialog = ExportDialog(
            frame_count=frame_count,
            has_explanation=result is not None or exploration is not None,
            has_identifiers=bool(radiograph.identity.values()),
            fps=self.explanation_panel.fps_spin.value(),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._on_export_dialog_accepted(dialog))
        dialog.finished.connect(dialog.deleteLater)
        self.export_dialog = dialog
        dialog.open()

    def _on_export_dialog_accepted(self, dialog: ExportDialog) -> None:
        request = dialog.request()
        self.export_dialog = None
        folder = Path(self.settings.last_folder or Path.home())
        suggested = str(folder / DEFAULT_NAMES[request.kind])
        path = self.choose_export_path(self, request.kind, suggested)
        if path:
            self.export_to(path, request)

    def _engine_result(self) -> ExplanationResult | None:
        return engine_result(self.comparison.explanation)

    def _statistics_of(self, result: ExplanationResult) -> StatisticsReport:
        """``result``'s lung statistics, with areas in mm² when the shown image states its pixel
        spacing and the result is on its grid (the regions count its pixels)."""
        radiograph = self.comparison.radiograph
        on_grid = radiograph is not None and result.original.shape == radiograph.shape
        spacing = radiograph.info.spacing if radiograph is not None and on_grid else None
        return report_of(result, spacing)

    def export_gif(self, path: str) -> None:
        """Write the shown explanation as a GIF with the default options (no identifiers)."""
        self.export_to(path, ExportRequest(ExportKind.GIF))

    @asyncSlot()
    async def export_to(self, path: str, request: ExportRequest) -> None:
        """Write ``request``'s export to ``path`` on the worker (atomic; no identifiers unless
        the user asked for them in a GIF)."""
        kind = request.kind
        target = with_suffix(Path(path), kind)
        result = self._engine_result()
        exploration = feature_exploration(self.comparison.explanation)
        radiograph = self.comparison.radiograph
        if radiograph is None or (
            kind.needs_explanation and result is None and exploration is None
        ):
            self.statusBar().showMessage("Nothing to export: no explanation is shown", 5000)
            return
        identity = radiograph.identity if request.gif.include_identifiers else None
        options = request.gif
        job: Callable[[JobContext], Path]
        if kind is ExportKind.PNG:
            # Grab on the GUI thread (widgets); encode and write on the worker.
            with self.comparison.cursor_graphics_hidden():
                image = self.centralWidget().grab().toImage()
            job = lambda _job: write_png_snapshot(target, image)  # noqa: E731
        elif kind is ExportKind.GIF and result is not None:
            job = lambda _job: write_gif_export(target, result, options, identity)  # noqa: E731
        elif kind is ExportKind.GIF and exploration is not None:
            job = lambda _job: write_feature_gif(target, exploration, options, identity)  # noqa: E731
        elif kind is ExportKind.DICOM and result is not None:
            keep = request.keep_identity
            job = lambda _job: write_dicom_export(target, result, radiograph, keep)  # noqa: E731
        elif result is not None:
            # The panel's report is the shown result's, computed when it was shown.
            report = self.statistics_panel.report or self._statistics_of(result)
            job = lambda _job: write_statistics(target, report, kind)  # noqa: E731
        else:  # statistics or DICOM of a feature explanation: the exploration measures none
            self.report_error(
                f"Export failed: {kind.title.lower()} are not available for feature "
                "explanations; export a GIF or a PNG snapshot instead"
            )
            return
        try:
            await self.jobs.submit(JobChannel.EXPORT, job)
        except SupersededError:
            return
        except (EngineError, OSError, ValueError) as error:
            self.report_error(f"Export failed: {error}")
            return
        shown = f"{target.name}/dicom" if kind.is_folder else target.name
        self.statusBar().showMessage(f"Exported {shown}", 5000)
        self.exported.emit(str(target))

    def open_pacs_dialog(self) -> None:
        """File > Open from PACS: search a PACS, retrieve a study, open it like a folder."""
        if self.pacs_dialog is None:
            dialog = PacsDialog(self.settings.pacs_server, self)
            dialog.search_requested.connect(self.search_pacs)
            dialog.retrieve_requested.connect(self.retrieve_study)
            self.pacs_dialog = dialog
        self.pacs_dialog.open()

    @asyncSlot(object, object)
    async def search_pacs(self, spec: PacsServerSpec, filters: dict[str, str]) -> None:
        """Query the PACS on the worker; the dialog shows the studies or the one-line error."""
        from viewer import pacs_bridge

        self.settings.pacs_server = spec
        dialog = self.pacs_dialog
        try:
            studies = await self.jobs.submit(
                JobChannel.PACS, lambda _job: pacs_bridge.search(spec, filters)
            )
        except SupersededError:
            self._pacs_dialog_idle("Search cancelled")
            return
        except EngineError as error:
            self._pacs_dialog_idle(f"Search failed: {error}")
            self.statusBar().showMessage(f"PACS search failed: {error}", 10000)
            return
        except Exception as error:  # a bug, not a PACS answer: still never fatal
            self._pacs_dialog_idle("Search failed (an internal error; see the log)")
            self.report_unexpected("Searching the PACS failed", error)
            return
        if dialog is not None:
            dialog.show_studies(studies)

    @asyncSlot(object, str)
    async def retrieve_study(self, spec: PacsServerSpec, study_uid: str) -> None:
        """Retrieve one study on the worker (progress and Cancel in the status bar), then open
        its folder; a failed or cancelled retrieval leaves no file behind."""
        from viewer import pacs_bridge

        dialog = self.pacs_dialog
        cache = self.pacs_cache
        try:
            folder = await self.jobs.submit(
                JobChannel.PACS, lambda job: pacs_bridge.retrieve(spec, study_uid, cache, job)
            )
        except SupersededError:
            self._pacs_dialog_idle("Retrieval cancelled")
            return
        except EngineError as error:
            self._pacs_dialog_idle(f"Retrieval failed: {error}")
            self.report_error(f"Retrieval failed: {error}")
            return
        except Exception as error:  # a bug, not a PACS answer: still never fatal
            self._pacs_dialog_idle("Retrieval failed (an internal error; see the log)")
            self.report_unexpected("Retrieving from the PACS failed", error)
            return
        if dialog is not None:
            dialog.set_busy(False)
            dialog.accept()
        self.open_folder(str(folder))

    def _pacs_dialog_idle(self, message: str) -> None:
        """The PACS dialog's request ended without an answer: say why, allow the next one."""
        if self.pacs_dialog is not None:
            self.pacs_dialog.set_busy(False)
            self.pacs_dialog.show_message(message)

    @asyncSlot()
    async def send_results_to_pacs(self) -> None:
        """Store the shown explanation's DICOM objects in the PACS of the PACS dialog, in the
        patient's study (the PACS holds the patient's identity already)."""
        from viewer import pacs_bridge

        result = self._engine_result()
        radiograph = self.comparison.radiograph
        if result is None or radiograph is None:
            self.statusBar().showMessage("Nothing to send: no explanation is shown", 5000)
            return
        spec = self.settings.pacs_server
        problem = spec.problem()
        if problem is not None:
            self.report_error(f"Cannot send: {problem} (File > Open from PACS)")
            return
        where = (
            spec.url
            if spec.protocol is Protocol.DICOMWEB
            else (f"{spec.called_aet} at {spec.host}:{spec.port}")
        )
        question = (
            f"Store the explanation's 5 DICOM objects, with this patient's identity, in the "
            f"PACS {where}?"
        )
        if not self.confirm_send(self, question):
            return
        try:
            stored = await self.jobs.submit(
                JobChannel.PACS, lambda _job: pacs_bridge.send_results(spec, result, radiograph)
            )
        except SupersededError:
            return
        except (EngineError, OSError) as error:
            self.report_error(f"Sending the results failed: {error}")
            return
        self.statusBar().showMessage(f"Sent {stored} DICOM objects to the PACS", 5000)
        self.results_sent.emit(stored)

    def show_shortcuts(self) -> None:
        """Help > Keyboard Shortcuts (? or F1): every key the window binds, and the mouse map."""
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.open()

    def show_about(self) -> None:
        """Help > About: the research-use notice and the model cards."""
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(
                app_name=APP_NAME, notice=RESEARCH_NOTICE, models_dir=self._models_dir, parent=self
            )
        shown = self.comparison.explanation
        self.about_dialog.set_models_in_use(shown.model_name if shown is not None else None)
        self.about_dialog.open()

    def report_error(self, message: str) -> None:
        """Show a one-line error in the status bar and in a (non-blocking) dialog."""
        log.info("error shown to the user: %s", message)
        self.statusBar().showMessage(message, 10000)
        self.error_dialog.setText(message)
        self.error_dialog.setDetailedText("")
        self.error_dialog.open()
        self.error_reported.emit(message)

    def report_unexpected(self, context: str, error: BaseException) -> str:
        """An exception that is a bug: one line for the user, the traceback in the details.
        Returns the line.

        The error text and the traceback are redacted like the logs (engine.logs): users paste
        crash details into bug reports, and exception texts can quote header values and paths.
        """
        log.error("%s", context, exc_info=error)
        message = f"{context}: {type(error).__name__}: {redact(str(error))}"
        self.report_error(message)
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.error_dialog.setDetailedText(redact(details))
        return message

    # Explanation jobs.
    @asyncSlot()
    async def request_explanation(self) -> None:
        """Compute the explanation of the current image for the chosen direction or feature; a
        newer request supersedes it."""
        radiograph = self.comparison.radiograph
        explainer = self._explainer
        if radiograph is None or explainer is None:
            return
        self._set_status(self._computing(self.explanation_panel.choice))
        if not self._features_listed and not await self._list_features():
            return  # superseded by a newer request, which lists them
        choice = self.explanation_panel.choice  # listing the features may have changed it
        self._set_status(self._computing(choice))
        image = self._image_key
        started = time.monotonic()
        try:
            result = await self.jobs.submit(
                JobChannel.EXPLANATION,
                lambda job: explainer(radiograph, choice, job.cancel, job.report_progress),
            )
        except SupersededError:
            return  # cancelled (Esc, another image) or superseded: that caller set the status
        except EngineError as error:
            message = f"No explanation: {error}"
            self._set_status(failed(message))
            self.report_error(message)
            return
        except Exception as error:
            message = self.report_unexpected("Computing the explanation failed", error)
            self._set_status(failed(message))
            return
        if isinstance(choice, Feature):
            self._feature_seconds = time.monotonic() - started
            self._feature_cache.put(image, choice, result)
        if self.comparison.radiograph is radiograph:  # the user may have opened another image
            self.show_explanation(result)

    async def _list_features(self) -> bool:
        """Ask the explainer for its FIGAN features (on the worker: it loads the FIGAN models) and
        list them in the explanation panel. False when a newer request superseded this one.

        A bundle that cannot be used (made for another classifier, damaged) leaves the directions
        only, with the reason in the log and the choice's tooltip: no error dialog, since the user
        did not ask for a feature.
        """
        explainer = feature_explainer(self._explainer)
        if explainer is None:
            return True
        unavailable = ""
        try:
            features = await self.jobs.submit(
                JobChannel.EXPLANATION, lambda _job: explainer.features()
            )
        except SupersededError:
            return False
        except EngineError as error:
            log.warning("FIGAN features unavailable: %s", error)
            features, unavailable = (), str(error)
        except Exception as error:  # a bug: say so, and keep explaining the directions
            self.report_unexpected("Listing the FIGAN features failed", error)
            features, unavailable = (), "see the error report"
        self._features_listed = True
        self.explanation_panel.set_features(features, unavailable)
        return True

    # Slots.
    def _show_radiograph(self, path: Path, radiograph: Radiograph) -> None:
        self._path = path
        self._image_key = image_key(path)
        self._close_feature_dialog()
        if isinstance(self.explanation_panel.choice, Feature):
            # A feature is explored on request, image by image: the next image gets the
            # direction, not a minute-long exploration nobody asked for.
            self.explanation_panel.set_choice(self._direction)
        self._shown_choice = self.explanation_panel.choice
        self.comparison.set_radiograph(radiograph)
        self._clear_explanation_views()
        has_models = self._explainer is not None
        choice = self.explanation_panel.choice
        self._set_status(self._computing(choice) if has_models else NO_MODELS)
        self._update_preset_actions()
        self.setWindowTitle(f"{path.name} — {APP_NAME}")
        self.settings.last_folder = str(path.parent)
        self.settings.add_recent_file(str(path))
        self._rebuild_recent_menu()
        notes = "; ".join(radiograph.warnings)
        self.statusBar().showMessage(notes or f"Opened {path.name}", 0 if notes else 5000)
        self.image_opened.emit(str(path))
        if self._explainer is not None:
            self.request_explanation()

    def _set_status(self, status: ExplanationStatus) -> None:
        """Say ``status`` wherever no explanation is shown (the panes, the explanation panel)
        and, while a job runs or after a cancel, in the status bar."""
        self._status = status
        state = status.state
        text = status.text
        # Without an image the original pane says how to open one, unless one is opening.
        shown = self.comparison.radiograph is not None or state is ExplanationState.LOADING
        self.comparison.show_status(text if shown else "")
        if self.comparison.explanation is None:
            self.explanation_panel.set_explanation(None, text)
        if state in _STATUS_BAR_STATES:
            self.statusBar().showMessage(text)
        self.explanation_status_changed.emit(state.value)

    def _preset_for_key(self, key: int) -> VoiPreset | None:
        radiograph = self.comparison.radiograph
        if radiograph is None:
            return None
        auto = next((preset for preset in radiograph.presets if preset.name == "auto"), None)
        others = [preset for preset in radiograph.presets if preset is not auto]
        if key == 0:
            return auto or radiograph.presets[0]
        return others[key - 1] if key - 1 < len(others) else None

    def _update_preset_actions(self) -> None:
        for key, action in enumerate(self.preset_actions):
            preset = self._preset_for_key(key)
            action.setVisible(preset is not None or key == 0)
            action.setEnabled(preset is not None)
            if preset is not None:
                action.setText(f"{preset.name}  (W {preset.width:.5g} C {preset.center:.5g})")
            elif key == 0:
                action.setText("Auto window")

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files
        for path in files:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, path=path: self.open_path(path))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files", self._on_clear_recent_triggered)
        self.recent_menu.setEnabled(bool(files))

    def _on_clear_recent_triggered(self) -> None:
        self.settings.clear_recent_files()
        self._rebuild_recent_menu()

    def _on_open_action_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open radiograph", self.settings.last_folder, ";;".join(OPEN_FILTERS)
        )
        if path:
            self.open_path(path)

    def _on_open_folder_action_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self.settings.last_folder)
        if folder:
            self.open_folder(folder)

    def _on_explanation_choice_changed(self) -> None:
        choice = self.explanation_panel.choice
        if isinstance(choice, Feature):
            self._choose_feature(choice)
            return
        self._close_feature_dialog()
        self._direction = self._shown_choice = choice
        self._restart_explanation()

    def _choose_feature(self, feature: Feature) -> None:
        """Show ``feature``'s exploration of this image: kept from before, or computed once the
        user agreed to the wait (the dialog gives an estimate)."""
        if self._explainer is None or self.comparison.radiograph is None:
            self._shown_choice = feature
            return
        cached = self._feature_cache.get(self._image_key, feature)
        if cached is not None:
            self.jobs.cancel(JobChannel.EXPLANATION)  # a direction still computing: not wanted
            self._close_feature_dialog()
            self._shown_choice = feature
            self.show_explanation(cached)
            return
        self._close_feature_dialog()
        dialog = FeatureRunDialog(feature, feature_estimate(self._feature_seconds), self)
        dialog.confirmed.connect(self._on_feature_dialog_confirmed)
        dialog.declined.connect(self._on_feature_dialog_declined)
        dialog.finished.connect(dialog.deleteLater)
        self.feature_dialog = dialog
        dialog.open()

    def _close_feature_dialog(self) -> None:
        dialog, self.feature_dialog = self.feature_dialog, None
        if dialog is not None:
            dialog.declined.disconnect(self._on_feature_dialog_declined)
            dialog.confirmed.disconnect(self._on_feature_dialog_confirmed)
            dialog.reject()

    def _on_feature_dialog_confirmed(self, feature: Feature) -> None:
        self.feature_dialog = None
        if self.explanation_panel.choice == feature:
            self._shown_choice = feature
            self._restart_explanation()

    def _on_feature_dialog_declined(self, feature: Feature) -> None:
        self.feature_dialog = None
        if self.explanation_panel.choice == feature:
            self.explanation_panel.set_choice(self._shown_choice)  # the panes still show it

    def _computing(self, choice: ExplanationChoice) -> ExplanationStatus:
        if isinstance(choice, Feature):
            estimate = feature_estimate(self._feature_seconds)
            return computing(f"Exploring {choice.name.lower()} (FIGAN, {estimate})")
        return computing("Computing the explanation")

    def _restart_explanation(self) -> None:
        """Drop the shown explanation (if any) and compute the chosen one."""
        if self._explainer is None or self.comparison.radiograph is None:
            return
        status = self._computing(self.explanation_panel.choice)
        self.comparison.clear_explanation(status.text)
        self._clear_explanation_views()
        self._set_status(status)
        self.request_explanation()

    def _clear_explanation_views(self) -> None:
        """Empty what describes an explanation outside the panes and the panel."""
        self.banner.set_alerts(())
        self.statistics_panel.set_report(None)

    def _on_display_link_window_toggled(self, linked: bool) -> None:
        self.settings.link_window = linked
        self.comparison.set_link_window(linked)

    def _on_display_diverging_toggled(self, diverging: bool) -> None:
        self.settings.diverging_difference = diverging
        self.comparison.set_difference_map(_difference_map(diverging))

    def _on_display_invert_mouse_toggled(self, inverted: bool) -> None:
        self.settings.invert_mouse_direction = inverted
        self.comparison.set_invert_mouse_direction(inverted)

    def _on_display_lung_contour_toggled(self, visible: bool) -> None:
        self.settings.lung_contour = visible
        self.comparison.set_lung_contour_visible(visible)

    def _on_display_statistics_toggled(self, visible: bool) -> None:
        self.settings.statistics_overlay = visible
        self.comparison.set_statistics_visible(visible)

    def _on_display_attribution_changed(self, value: str) -> None:
        kind = Attribution(value)
        self.settings.attribution_overlay = kind
        self.comparison.set_attribution(kind)

    def _on_display_overlay_opacity_changed(self, opacity: float) -> None:
        self.settings.overlay_opacity = opacity
        self.comparison.set_attribution(self.comparison.attribution, opacity)

    def _on_jobs_busy_changed(self, busy: bool) -> None:
        self.progress_bar.setRange(0, 0)  # indeterminate until a job reports progress
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def _on_jobs_progress_changed(self, channel: str, fraction: float, stage: str) -> None:
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(round(fraction * 1000))
        if channel == JobChannel.EXPLANATION and self._status.state is ExplanationState.COMPUTING:
            self._set_status(self._status.with_progress(fraction, stage))

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
            self.open_folder(str(paths[0]))
        else:
            self.open_path(str(paths[0]))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.explanation_panel.set_playing(False)
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()
        self.jobs.shutdown()
        super().closeEvent(event)


# The states whose text also goes to the status bar (until the next message): a failure is
# reported there by report_error, a ready explanation by show_explanation.
_STATUS_BAR_STATES = frozenset(
    {ExplanationState.LOADING, ExplanationState.COMPUTING, ExplanationState.CANCELLED}
)


def _difference_map(diverging: bool) -> DifferenceMap:
    return DifferenceMap.DIVERGING if diverging else DifferenceMap.GRAY


def _local_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
