"""The status bar's job indicator: a progress bar and a Cancel button, shown while a job runs."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QProgressBar, QPushButton, QWidget

from viewer.worker import JobRunner


class JobProgress(QObject):
    """``progress_bar`` and ``cancel_button`` follow ``jobs``; the button calls ``cancel``. The
    window puts both in its status bar."""

    def __init__(self, jobs: JobRunner, cancel: Callable[[], None], parent: QWidget) -> None:
        super().__init__(parent)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(160)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        self.progress_bar.hide()
        self.cancel_button.hide()
        jobs.busy_changed.connect(self._on_jobs_busy_changed)
        jobs.progress_changed.connect(self._on_jobs_progress_changed)
        self.cancel_button.clicked.connect(lambda _checked=False: cancel())

    def _on_jobs_busy_changed(self, busy: bool) -> None:
        self.progress_bar.setRange(0, 0)  # indeterminate until a job reports progress
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def _on_jobs_progress_changed(self, _channel: str, fraction: float, _stage: str) -> None:
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(round(fraction * 1000))
