"""The PACS: File > Open from PACS (search, retrieve a study, open it like a folder) and File >
Send Results to PACS. Every request runs on the worker; the remembered server is the dialog's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtWidgets import QMessageBox, QWidget
from qasync import asyncSlot

from engine.api import EngineError
from viewer.explanation import engine_result
from viewer.pacs_dialog import PacsDialog, PacsServerSpec, Protocol
from viewer.worker import JobChannel, SupersededError

if TYPE_CHECKING:
    from viewer.session import Session

# Asks before identified results leave the machine: (parent, question) -> go ahead.
SendConfirmation = Callable[[QWidget, str], bool]


def ask_to_send(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "Send Results to PACS", question)
    return answer == QMessageBox.StandardButton.Yes


class PacsActions(QObject):
    """Searches, retrieves and sends for the session; opens what it retrieves."""

    results_sent = Signal(int)  # DICOM objects stored in the PACS

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._session = session
        self._parts = session.parts
        self.confirm_send: SendConfirmation = ask_to_send  # tests replace it
        self.pacs_dialog: PacsDialog | None = None
        # Where studies retrieved from a PACS are kept (one folder per study).
        self.cache = (
            Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation))
            / "pacs"
        )

    def open_pacs_dialog(self) -> None:
        """File > Open from PACS: search a PACS, retrieve a study, open it like a folder."""
        if self.pacs_dialog is None:
            dialog = PacsDialog(self._session.settings.pacs_server, self._parts.window)
            dialog.search_requested.connect(self.search_pacs)
            dialog.retrieve_requested.connect(self.retrieve_study)
            self.pacs_dialog = dialog
        self.pacs_dialog.open()

    @asyncSlot(object, object)
    async def search_pacs(self, spec: PacsServerSpec, filters: dict[str, str]) -> None:
        """Query the PACS on the worker; the dialog shows the studies or the one-line error."""
        from viewer import pacs_bridge

        session = self._session
        session.settings.pacs_server = spec
        dialog = self.pacs_dialog
        try:
            studies = await session.jobs.submit(
                JobChannel.PACS, lambda _job: pacs_bridge.search(spec, filters)
            )
        except SupersededError:
            self._dialog_idle("Search cancelled")
            return
        except EngineError as error:
            self._dialog_idle(f"Search failed: {error}")
            self._parts.say(f"PACS search failed: {error}", 10000)
            return
        except Exception as error:  # a bug, not a PACS answer: still never fatal
            self._dialog_idle("Search failed (an internal error; see the log)")
            session.errors.report_unexpected("Searching the PACS failed", error)
            return
        if dialog is not None:
            dialog.show_studies(studies)

    @asyncSlot(object, str)
    async def retrieve_study(self, spec: PacsServerSpec, study_uid: str) -> None:
        """Retrieve one study on the worker (progress and Cancel in the status bar), then open
        its folder; a failed or cancelled retrieval leaves no file behind."""
        from viewer import pacs_bridge

        session = self._session
        dialog = self.pacs_dialog
        cache = self.cache
        try:
            folder = await session.jobs.submit(
                JobChannel.PACS, lambda job: pacs_bridge.retrieve(spec, study_uid, cache, job)
            )
        except SupersededError:
            self._dialog_idle("Retrieval cancelled")
            return
        except EngineError as error:
            self._dialog_idle(f"Retrieval failed: {error}")
            session.errors.report_error(f"Retrieval failed: {error}")
            return
        except Exception as error:  # a bug, not a PACS answer: still never fatal
            self._dialog_idle("Retrieval failed (an internal error; see the log)")
            session.errors.report_unexpected("Retrieving from the PACS failed", error)
            return
        if dialog is not None:
            dialog.set_busy(False)
            dialog.accept()
        session.open_folder(str(folder))

    def _dialog_idle(self, message: str) -> None:
        """The PACS dialog's request ended without an answer: say why, allow the next one."""
        if self.pacs_dialog is not None:
            self.pacs_dialog.set_busy(False)
            self.pacs_dialog.show_message(message)

    @asyncSlot()
    async def send_results_to_pacs(self) -> None:
        """Store the shown explanation's DICOM objects in the PACS of the PACS dialog, in the
        patient's study (the PACS holds the patient's identity already)."""
        from viewer import pacs_bridge

        session = self._session
        result = engine_result(session.state.explanation)
        radiograph = session.state.radiograph
        if result is None or radiograph is None:
            self._parts.say("Nothing to send: no explanation is shown", 5000)
            return
        spec = session.settings.pacs_server
        problem = spec.problem()
        if problem is not None:
            session.errors.report_error(f"Cannot send: {problem} (File > Open from PACS)")
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
        if not self.confirm_send(self._parts.window, question):
            return
        try:
            stored = await session.jobs.submit(
                JobChannel.PACS, lambda _job: pacs_bridge.send_results(spec, result, radiograph)
            )
        except SupersededError:
            return
        except (EngineError, OSError) as error:
            session.errors.report_error(f"Sending the results failed: {error}")
            return
        self._parts.say(f"Sent {stored} DICOM objects to the PACS", 5000)
        self.results_sent.emit(stored)
