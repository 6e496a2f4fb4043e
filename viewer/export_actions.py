"""File > Export: ask what to export and where, then write it on the worker (atomic; no patient
identifiers unless the user asked for them in a GIF)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget
from qasync import asyncSlot

from engine.api import EngineError
from viewer.explanation import engine_result
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
from viewer.statistics_report import report_of_shown
from viewer.worker import JobChannel, JobContext, SupersededError

if TYPE_CHECKING:
    from viewer.session import Session

# Asks where to save an export: (kind, suggested path) -> chosen path, or None when cancelled.
SavePathChooser = Callable[[QWidget, ExportKind, str], str | None]


def ask_save_path(parent: QWidget, kind: ExportKind, suggested: str) -> str | None:
    if kind.is_folder:
        folder = QFileDialog.getExistingDirectory(
            parent, "Export DICOM objects into a folder", str(Path(suggested).parent)
        )
        return folder or None
    path, _ = QFileDialog.getSaveFileName(parent, "Export", suggested, kind.file_filter)
    return path or None


class ExportActions(QObject):
    """Exports of the session's shown image and explanation."""

    exported = Signal(str)  # path of the written file

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._session = session
        self._parts = session.parts
        self.choose_export_path: SavePathChooser = ask_save_path  # tests replace it
        self.export_dialog: ExportDialog | None = None

    def export(self) -> None:
        """Ctrl+E: ask what to export (GIF, PNG snapshot, statistics) and where."""
        state = self._session.state
        radiograph = state.radiograph
        if radiograph is None:
            self._parts.say("Nothing to export: no image is shown", 5000)
            return
        result = engine_result(state.explanation)
        exploration = feature_exploration(state.explanation)
        if result is not None:
            frame_count = len(result.primary.frames.frames)
        elif exploration is not None:
            frame_count = len(exploration.sequence.frames)
        else:
            frame_count = 0
        dialog = ExportDialog(
            frame_count=frame_count,
            has_explanation=result is not None or exploration is not None,
            has_identifiers=bool(radiograph.identity.values()),
            fps=self._parts.explanation_panel.fps_spin.value(),
            parent=self._parts.window,
        )
        dialog.accepted.connect(lambda: self._on_export_dialog_accepted(dialog))
        dialog.finished.connect(dialog.deleteLater)
        self.export_dialog = dialog
        dialog.open()

    def _on_export_dialog_accepted(self, dialog: ExportDialog) -> None:
        request = dialog.request()
        self.export_dialog = None
        folder = Path(self._session.settings.last_folder or Path.home())
        suggested = str(folder / DEFAULT_NAMES[request.kind])
        path = self.choose_export_path(self._parts.window, request.kind, suggested)
        if path:
            self.export_to(path, request)

    def export_gif(self, path: str) -> None:
        """Write the shown explanation as a GIF with the default options (no identifiers)."""
        self.export_to(path, ExportRequest(ExportKind.GIF))

    @asyncSlot()
    async def export_to(self, path: str, request: ExportRequest) -> None:
        """Write ``request``'s export to ``path`` on the worker (atomic; no identifiers unless
        the user asked for them in a GIF)."""
        session, parts = self._session, self._parts
        kind = request.kind
        target = with_suffix(Path(path), kind)
        explanation = session.state.explanation
        result = engine_result(explanation)
        exploration = feature_exploration(explanation)
        radiograph = session.state.radiograph
        if radiograph is None or (
            kind.needs_explanation and result is None and exploration is None
        ):
            parts.say("Nothing to export: no explanation is shown", 5000)
            return
        identity = radiograph.identity if request.gif.include_identifiers else None
        options = request.gif
        job: Callable[[JobContext], Path]
        if kind is ExportKind.PNG:
            # Grab on the GUI thread (widgets); encode and write on the worker.
            with parts.comparison.cursor_graphics_hidden():
                panes = parts.window.centralWidget() or parts.window
                image = panes.grab().toImage()
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
            report = parts.statistics_panel.report or report_of_shown(result, radiograph)
            job = lambda _job: write_statistics(target, report, kind)  # noqa: E731
        else:  # statistics or DICOM of a feature explanation: the exploration measures none
            session.errors.report_error(
                f"Export failed: {kind.label.lower()} are not available for feature "
                "explanations; export a GIF or a PNG snapshot instead"
            )
            return
        try:
            await session.jobs.submit(JobChannel.EXPORT, job)
        except SupersededError:
            return
        except (EngineError, OSError, ValueError) as error:
            session.errors.report_error(f"Export failed: {error}")
            return
        shown = f"{target.name}/dicom" if kind.is_folder else target.name
        parts.say(f"Exported {shown}", 5000)
        self.exported.emit(str(target))
