"""The viewer session: the background jobs, the images and folders they open, and where the
shown image's explanation stands.

Every engine call runs on the ``JobRunner``'s worker thread; the slots here await it through
qasync and touch widgets only after the await, on the GUI thread. What is shown is written into
the ``ViewerState`` (the panels draw it); the status line goes to the panes, the explanation
panel and the status bar at once. Explanation runs, exports and the PACS are the session's
parts (``explanations``, ``exports``, ``pacs``): they share its jobs and its error reporting.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog
from qasync import asyncSlot

from engine.api import EngineError, Radiograph, load_radiograph, sample_radiograph_path
from viewer.error_reporter import ErrorReporter
from viewer.explanation import ExplanationProvider
from viewer.explanation_runs import ExplanationRuns
from viewer.explanation_status import (
    CANCELLED,
    NO_IMAGE,
    NO_MODELS,
    ExplanationState,
    ExplanationStatus,
    loading,
)
from viewer.export_actions import ExportActions
from viewer.folder_panel import list_image_candidates
from viewer.pacs_actions import PacsActions
from viewer.settings import ViewerSettings
from viewer.state import ViewerState
from viewer.study_browser import BrowserEntry, Group, describe_image
from viewer.window_parts import WindowParts
from viewer.worker import JobChannel, JobContext, JobRunner, SupersededError

Loader = Callable[[Path], Radiograph]
OPEN_FILTERS = (
    "Images (*.dcm *.dicom *.png *.jpg *.jpeg *.tif *.tiff)",
    "DICOM (*.dcm *.dicom)",
    "PNG (*.png)",
    "JPEG (*.jpg *.jpeg)",
    "TIFF (*.tif *.tiff)",
    "All files (*)",
)

# The states whose text also goes to the status bar (until the next message): a failure is
# reported there by report_error, a ready explanation by show_explanation.
_STATUS_BAR_STATES = frozenset(
    {ExplanationState.LOADING, ExplanationState.COMPUTING, ExplanationState.CANCELLED}
)


def _describe_job(_job: JobContext, path: Path, loader: Loader) -> BrowserEntry:
    """The study browser's entry for ``path``, as a worker job."""
    return describe_image(path, loader)


class Session(QObject):
    """Opens what the user asks for and keeps the explanation status.

    ``loader`` reads one image (the engine's ``load_radiograph`` unless a test injects another);
    ``explainer`` computes an explanation, or None while no models are loaded.
    """

    image_opened = Signal(str)
    folder_listed = Signal(str)
    folder_scanned = Signal(str)  # every file of the folder was described (thumbnails, groups)
    explanation_status_changed = Signal(str)  # the new ExplanationState's value

    def __init__(
        self,
        state: ViewerState,
        settings: ViewerSettings,
        parts: WindowParts,
        errors: ErrorReporter,
        *,
        loader: Loader = load_radiograph,
        explainer: ExplanationProvider | None = None,
    ) -> None:
        super().__init__(parts.window)
        self.state = state
        self.settings = settings
        self.parts = parts
        self.errors = errors
        self._loader = loader
        self.jobs = JobRunner(parts.window)
        self._opens = 0  # images asked for so far: a folder scan opens one only if none was since
        self._status = NO_IMAGE
        # What was shown before an image started loading: back to it when the load fails.
        self._status_before_loading = NO_IMAGE
        self.explanations = ExplanationRuns(self, explainer)
        self.exports = ExportActions(self)
        self.pacs = PacsActions(self)
        self.jobs.progress_changed.connect(self._on_jobs_progress_changed)
        parts.recent_files.file_chosen.connect(self.open_path)
        parts.folder_panel.file_activated.connect(self.open_path)
        self.set_status(NO_IMAGE if explainer is not None else NO_MODELS)

    @property
    def status(self) -> ExplanationStatus:
        """Where the shown image's explanation stands (what the panes and the panel say)."""
        return self._status

    def set_status(self, status: ExplanationStatus) -> None:
        """Say ``status`` wherever no explanation is shown (the panes, the explanation panel)
        and, while a job runs or after a cancel, in the status bar."""
        self._status = status
        state = status.state
        text = status.text
        comparison = self.parts.comparison
        # Without an image the original pane says how to open one, unless one is opening.
        shown = self.state.radiograph is not None or state is ExplanationState.LOADING
        comparison.show_status(text if shown else "")
        if self.state.explanation is None:
            self.parts.explanation_panel.set_explanation(None, text)
        if state in _STATUS_BAR_STATES:
            self.parts.say(text)
        self.explanation_status_changed.emit(state.value)

    # Images.
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
            self.errors.report_error(f"Cannot open {file_path.name}: {error}")
            return
        except Exception as error:  # a bug, not a bad file: still never fatal
            self._end_loading()
            self.errors.report_unexpected(f"Opening {file_path.name} failed", error)
            return
        self._show_radiograph(file_path, radiograph)

    def open_sample(self) -> None:
        self.open_path(str(sample_radiograph_path()))

    def ask_and_open_path(self) -> None:
        """File > Open: the file the user picks, starting in the last folder."""
        path, _ = QFileDialog.getOpenFileName(
            self.parts.window, "Open radiograph", self.settings.last_folder, ";;".join(OPEN_FILTERS)
        )
        if path:
            self.open_path(path)

    def _begin_loading(self, name: str) -> None:
        if self._status.state is not ExplanationState.LOADING:
            self._status_before_loading = self._status
        if self._status.state is ExplanationState.COMPUTING:
            # Its result would be dropped once the new image shows, and the single worker would
            # make the image wait for it (a FIGAN feature takes a minute).
            self.jobs.cancel(JobChannel.EXPLANATION)
            self._status_before_loading = CANCELLED
        self.set_status(loading(name))

    def _end_loading(self) -> None:
        """The open failed or was cancelled: say again what was shown before."""
        if self._status.state is ExplanationState.LOADING:
            self.set_status(self._status_before_loading)

    def _show_radiograph(self, path: Path, radiograph: Radiograph) -> None:
        explanations = self.explanations
        explanations.prepare_for_image(path)
        self.state.show_image(path, radiograph)
        explanations.clear_views()
        self.set_status(explanations.computing_status() if explanations.available else NO_MODELS)
        self.settings.last_folder = str(path.parent)
        self.parts.recent_files.add(str(path))
        notes = "; ".join(radiograph.warnings)
        self.parts.say(notes or f"Opened {path.name}", 0 if notes else 5000)
        self.image_opened.emit(str(path))
        if explanations.available:
            explanations.request_explanation()

    # Folders.
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
            self.errors.report_error(f"Cannot list {folder_path}: {error.strerror or error}")
            return
        except Exception as error:
            self.errors.report_unexpected(f"Listing {folder_path} failed", error)
            return
        self.settings.last_folder = str(folder_path)
        self.parts.folder_panel.set_folder(folder_path, files)
        self.parts.folder_dock.show()
        self.parts.say(f"{len(files)} files in {folder_path.name}", 5000)
        self.folder_listed.emit(str(folder_path))
        await self._scan_folder(folder_path, files)

    def ask_and_open_folder(self) -> None:
        """File > Open Folder: the folder the user picks, starting in the last one."""
        window = self.parts.window
        folder = QFileDialog.getExistingDirectory(window, "Open folder", self.settings.last_folder)
        if folder:
            self.open_folder(folder)

    async def _scan_folder(self, folder: Path, files: list[Path]) -> None:
        """Describe the files one job at a time, so an explanation or an image the user opens
        meanwhile waits for one file at most; a newer folder (or Esc) supersedes the scan."""
        loader = self._loader
        opens = self._opens
        for path in files:
            try:
                entry = await self.jobs.submit(
                    JobChannel.BROWSER, partial(_describe_job, path=path, loader=loader)
                )
            except SupersededError:
                return
            except Exception as error:  # a bug in describing one file: say so, keep the app
                self.errors.report_unexpected(
                    f"Reading {path.name} for the study browser failed", error
                )
                return
            self.parts.folder_panel.add_entry(entry)
            # The first image that reads opens, unless the user opened one meanwhile.
            if self._opens == opens and entry.group is not Group.UNREADABLE:
                self.open_path(str(path))
        self.parts.folder_panel.finish_scan()
        self.folder_scanned.emit(str(folder))

    # Jobs.
    def cancel_jobs(self) -> None:
        """Esc: stop every job; an explanation it stops says so until it is computed again."""
        if not self.jobs.busy:
            return
        self.jobs.cancel()
        if self._status.state is ExplanationState.COMPUTING:
            self.set_status(CANCELLED)
            return
        self.parts.say("Cancelled", 3000)
        self._end_loading()

    def shutdown(self) -> None:
        """The window closes: stop the jobs (their callers get ``SupersededError``)."""
        self.jobs.shutdown()

    def _on_jobs_progress_changed(self, channel: str, fraction: float, stage: str) -> None:
        if channel == JobChannel.EXPLANATION and self._status.state is ExplanationState.COMPUTING:
            self.set_status(self._status.with_progress(fraction, stage))
