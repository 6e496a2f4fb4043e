"""Errors shown to the user: one line in the status bar and in a non-blocking dialog."""

from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow, QMessageBox

from engine.api import redact

log = logging.getLogger(__name__)


class ErrorReporter(QObject):
    """Reports errors over ``window``: its status bar and a warning dialog titled ``title``."""

    error_reported = Signal(str)

    def __init__(self, window: QMainWindow, title: str) -> None:
        super().__init__(window)
        self._window = window
        self.dialog = QMessageBox(window)
        self.dialog.setIcon(QMessageBox.Icon.Warning)
        self.dialog.setWindowTitle(title)

    def report_error(self, message: str) -> None:
        """Show a one-line error in the status bar and in a (non-blocking) dialog."""
        log.info("error shown to the user: %s", message)
        self._window.statusBar().showMessage(message, 10000)
        self.dialog.setText(message)
        self.dialog.setDetailedText("")
        self.dialog.open()
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
        self.dialog.setDetailedText(redact(details))
        return message
