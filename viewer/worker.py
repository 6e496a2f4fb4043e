"""Background jobs: one worker thread, driven through qasync, with stale results dropped.

Every job belongs to a channel (loading an image, computing an explanation, listing a folder).
A new job on a channel supersedes the previous one: the old job's cancel event is set (the engine
stops at its next check) and, whatever it returns or raises, its caller gets ``SupersededError``
instead of a result, so a slow first load can never overwrite the image the user opened next.

Widgets are never touched from the worker thread: progress reports are marshalled to the GUI
thread through the event loop before any signal is emitted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

# (fraction in [0, 1], the stage just finished or "") - the engine's progress callback.
ProgressCallback = Callable[[float, str], None]


class JobChannel(StrEnum):
    IMAGE = "image"
    EXPLANATION = "explanation"
    FOLDER = "folder"
    BROWSER = "browser"  # describing a folder's files for the study browser, one per job
    EXPORT = "export"
    PACS = "pacs"


class SupersededError(Exception):
    """The job's result is stale: a newer job on its channel was submitted, or the runner closed."""


@dataclass(frozen=True, slots=True)
class JobContext:
    """Handed to a job on the worker thread.

    ``cancel`` is set when the job is superseded or cancelled; pass it to the engine call.
    ``report_progress(fraction, stage)`` takes a fraction in ``[0, 1]`` and the name of the stage
    just finished (the engine's progress callback: pass it on); safe to call from the worker.
    """

    request_id: int
    channel: JobChannel
    cancel: threading.Event
    report_progress: ProgressCallback


class JobRunner(QObject):
    """Runs one job at a time on a single worker thread; one current request per channel."""

    busy_changed = Signal(bool)
    # channel, fraction in [0, 1] and stage name of the newest job of that channel that reported
    progress_changed = Signal(str, float, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxr-worker")
        self._ids = itertools.count(1)
        self._current: dict[JobChannel, JobContext] = {}
        self._running = 0
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._running > 0

    def current_request(self, channel: JobChannel) -> int | None:
        context = self._current.get(channel)
        return context.request_id if context else None

    async def submit(self, channel: JobChannel, job: Callable[[JobContext], T]) -> T:
        """Run ``job(context)`` on the worker and return its result.

        Raises ``SupersededError`` when the result went stale while it ran, and otherwise whatever
        the job raised. Must be awaited on the GUI thread's qasync loop.
        """
        if self._closed:
            raise SupersededError("the viewer is closing")
        loop = asyncio.get_running_loop()
        request_id = next(self._ids)

        def report_progress(fraction: float, stage: str) -> None:
            loop.call_soon_threadsafe(self._on_job_progress, channel, request_id, fraction, stage)

        context = JobContext(request_id, channel, threading.Event(), report_progress)
        previous = self._current.get(channel)
        if previous is not None:
            previous.cancel.set()
        self._current[channel] = context
        self._set_running(self._running + 1)
        try:
            result = await loop.run_in_executor(self._executor, _run_unless_cancelled, job, context)
        except Exception:
            if self._finish(context):
                log.debug("dropping the error of stale request %d", request_id)
                raise SupersededError(f"request {request_id} was superseded") from None
            raise
        except BaseException:  # asyncio cancellation: still release the channel
            self._finish(context)
            raise
        if self._finish(context):
            log.debug("dropping the result of stale request %d", request_id)
            raise SupersededError(f"request {request_id} was superseded")
        return result

    def cancel(self, channel: JobChannel | None = None) -> None:
        """Ask the current job of ``channel`` (None: of every channel) to stop; its caller gets
        ``SupersededError``."""
        channels = list(self._current) if channel is None else [channel]
        for name in channels:
            context = self._current.pop(name, None)
            if context is not None:
                context.cancel.set()

    def shutdown(self) -> None:
        """Cancel everything and release the worker without waiting for a running engine call."""
        self._closed = True
        self.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _finish(self, context: JobContext) -> bool:
        """Release ``context``'s channel; True when its result is stale."""
        self._set_running(self._running - 1)
        stale = self._closed or self._current.get(context.channel) is not context
        if not stale:
            del self._current[context.channel]
        return stale

    def _set_running(self, running: int) -> None:
        was_busy = self.busy
        self._running = running
        if self.busy != was_busy and not self._closed:  # after close the QObject may be gone
            self.busy_changed.emit(self.busy)

    def _on_job_progress(
        self, channel: JobChannel, request_id: int, fraction: float, stage: str
    ) -> None:
        if self.current_request(channel) == request_id:
            self.progress_changed.emit(channel.value, min(max(float(fraction), 0.0), 1.0), stage)


def _run_unless_cancelled(job: Callable[[JobContext], T], context: JobContext) -> T:
    """On the worker: skip a job that was superseded while it waited in the queue."""
    if context.cancel.is_set():
        raise SupersededError(f"request {context.request_id} was cancelled before it started")
    return job(context)
