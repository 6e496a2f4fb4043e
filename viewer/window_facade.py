"""The main window's names for what its state, session and dialogs own: the app, the benchmarks,
the screenshot scripts and the tests know the window by them (``window.open_path``,
``window.pacs_cache``...), so they need not know how the window is put together.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from engine.api import Radiograph
from viewer.about_dialog import AboutDialog
from viewer.explanation import Explanation
from viewer.explanation_status import ExplanationStatus
from viewer.export import ExportRequest
from viewer.export_actions import SavePathChooser
from viewer.export_dialog import ExportDialog
from viewer.feature_run_dialog import FeatureRunDialog
from viewer.forwarding import Forwarded
from viewer.pacs_actions import SendConfirmation
from viewer.pacs_dialog import PacsDialog
from viewer.shortcuts_dialog import ShortcutsDialog
from viewer.worker import JobRunner


class WindowFacade:
    """Mixed into ``MainWindow``, which has ``state``, ``session``, ``help`` and ``_errors``."""

    path = Forwarded[Path | None]("state.path")  # the file shown now
    radiograph = Forwarded[Radiograph | None]("state.radiograph")
    jobs = Forwarded[JobRunner]("session.jobs")
    explanation_status = Forwarded[ExplanationStatus]("session.status")
    has_explainer = Forwarded[bool]("session.explanations.available")
    error_dialog = Forwarded[QMessageBox]("_errors.dialog")
    feature_dialog = Forwarded[FeatureRunDialog | None]("session.explanations.feature_dialog")
    export_dialog = Forwarded[ExportDialog | None]("session.exports.export_dialog")
    pacs_dialog = Forwarded[PacsDialog | None]("session.pacs.pacs_dialog")
    pacs_cache = Forwarded[Path]("session.pacs.cache", writable=True)
    choose_export_path = Forwarded[SavePathChooser](
        "session.exports.choose_export_path", writable=True
    )
    confirm_send = Forwarded[SendConfirmation]("session.pacs.confirm_send", writable=True)
    open_path = Forwarded[Callable[[str], object]]("session.open_path")
    open_sample = Forwarded[Callable[[], None]]("session.open_sample")
    open_folder = Forwarded[Callable[[str], object]]("session.open_folder")
    cancel_jobs = Forwarded[Callable[[], None]]("session.cancel_jobs")
    show_explanation = Forwarded[Callable[[Explanation], None]](
        "session.explanations.show_explanation"
    )
    request_explanation = Forwarded[Callable[[], object]](
        "session.explanations.request_explanation"
    )
    export = Forwarded[Callable[[], None]]("session.exports.export")
    export_gif = Forwarded[Callable[[str], None]]("session.exports.export_gif")
    export_to = Forwarded[Callable[[str, ExportRequest], object]]("session.exports.export_to")
    open_pacs_dialog = Forwarded[Callable[[], None]]("session.pacs.open_pacs_dialog")
    send_results_to_pacs = Forwarded[Callable[[], object]]("session.pacs.send_results_to_pacs")
    report_unexpected = Forwarded[Callable[[str, BaseException], str]]("_errors.report_unexpected")
    about_dialog = Forwarded[AboutDialog | None]("help.about_dialog")
    shortcuts_dialog = Forwarded[ShortcutsDialog | None]("help.shortcuts_dialog")
    show_about = Forwarded[Callable[[], None]]("help.show_about")
    show_shortcuts = Forwarded[Callable[[], None]]("help.show_shortcuts")
