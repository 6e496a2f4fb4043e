"""JobRunner: results, stale requests, errors, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import qasync
from pytestqt.qtbot import QtBot

from viewer.worker import JobChannel, JobContext, JobRunner, SupersededError

TIMEOUT_MS = 10_000


@pytest.fixture
def runner(qasync_loop: qasync.QEventLoop) -> Iterator[JobRunner]:
    runner = JobRunner()
    yield runner
    runner.shutdown()


def _run(qtbot: QtBot, coroutine) -> asyncio.Task:
    task = asyncio.ensure_future(coroutine)
    qtbot.waitUntil(task.done, timeout=TIMEOUT_MS)
    return task


def test_a_job_runs_off_the_gui_thread(runner: JobRunner, qtbot: QtBot) -> None:
    gui_thread = threading.get_ident()
    task = _run(qtbot, runner.submit(JobChannel.IMAGE, lambda job: threading.get_ident()))
    assert task.result() != gui_thread


def test_a_newer_request_supersedes_and_cancels_the_older(runner: JobRunner, qtbot: QtBot) -> None:
    started = threading.Event()
    seen_cancel: list[bool] = []

    def slow(job: JobContext) -> str:
        started.set()
        seen_cancel.append(job.cancel.wait(timeout=TIMEOUT_MS / 1000))
        return "old"

    old = asyncio.ensure_future(runner.submit(JobChannel.IMAGE, slow))
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    new = _run(qtbot, runner.submit(JobChannel.IMAGE, lambda job: "new"))
    qtbot.waitUntil(old.done, timeout=TIMEOUT_MS)

    assert new.result() == "new"
    assert isinstance(old.exception(), SupersededError)
    assert seen_cancel == [True]  # the engine saw the cancel event
    assert not runner.busy


def test_other_channels_are_not_superseded(runner: JobRunner, qtbot: QtBot) -> None:
    image = asyncio.ensure_future(runner.submit(JobChannel.IMAGE, lambda job: 1))
    folder = _run(qtbot, runner.submit(JobChannel.FOLDER, lambda job: 2))
    qtbot.waitUntil(image.done, timeout=TIMEOUT_MS)
    assert (image.result(), folder.result()) == (1, 2)


def test_job_errors_reach_the_caller(runner: JobRunner, qtbot: QtBot) -> None:
    def fail(job: JobContext) -> None:
        raise ValueError("bad pixel data")

    task = _run(qtbot, runner.submit(JobChannel.IMAGE, fail))
    assert isinstance(task.exception(), ValueError)


def test_progress_is_reported_on_the_gui_thread(runner: JobRunner, qtbot: QtBot) -> None:
    received: list[tuple[str, float, str, int]] = []
    runner.progress_changed.connect(
        lambda channel, fraction, stage: received.append(
            (channel, fraction, stage, threading.get_ident())
        )
    )

    def job(context: JobContext) -> None:
        context.report_progress(0.5, "segment")

    with qtbot.waitSignal(runner.progress_changed, timeout=TIMEOUT_MS):
        task = asyncio.ensure_future(runner.submit(JobChannel.EXPLANATION, job))
    qtbot.waitUntil(task.done, timeout=TIMEOUT_MS)
    assert received == [("explanation", 0.5, "segment", threading.get_ident())]


def test_cancelling_one_channel_leaves_the_others_running(runner: JobRunner, qtbot: QtBot) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(job: JobContext) -> str:
        started.set()
        release.wait(timeout=TIMEOUT_MS / 1000)
        return "explained"

    explanation = asyncio.ensure_future(runner.submit(JobChannel.EXPLANATION, slow))
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    folder = asyncio.ensure_future(runner.submit(JobChannel.FOLDER, lambda job: 2))

    runner.cancel(JobChannel.EXPLANATION)
    release.set()
    qtbot.waitUntil(lambda: explanation.done() and folder.done(), timeout=TIMEOUT_MS)

    assert isinstance(explanation.exception(), SupersededError)
    assert folder.result() == 2


def test_after_shutdown_nothing_runs(runner: JobRunner, qtbot: QtBot) -> None:
    runner.shutdown()
    task = _run(qtbot, runner.submit(JobChannel.IMAGE, lambda job: 1))
    assert isinstance(task.exception(), SupersededError)
