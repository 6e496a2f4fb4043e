"""Qt set-up for viewer tests: a qasync loop per test and a main-window factory.

Like napari's ``make_napari_viewer``: the factory owns construction with isolated settings
(an INI file in ``tmp_path``, never the user's) and closes every window it made at teardown.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from viewer_fakes import with_planted_lungs

from engine.api import (
    ExplainRequest,
    ExplanationResult,
    Radiograph,
    explain,
    load_model_set,
    load_radiograph,
    sample_radiograph_path,
)
from engine.testing import write_tiny_models
from viewer.app import configure_pyqtgraph
from viewer.engine_bridge import bridge
from viewer.main_window import MainWindow
from viewer.settings import ViewerSettings
from viewer.theme import apply_dark_theme

LOAD_TIMEOUT_MS = 20_000


@pytest.fixture(autouse=True)
def collect_garbage_on_the_gui_thread() -> Iterator[None]:
    """No automatic collection during a viewer test, one full collection after it, here.

    The viewer runs engine jobs on a worker thread; a collection that thread happens to trigger
    would destroy the Qt objects of unreachable cycles (pyqtgraph context menus, windows of
    earlier tests) off the GUI thread, and a timer of one of them later fires on freed memory (a
    segfault in QCoreApplication::notifyInternal2 from QTimerInfoList::activateTimers, seen in
    full-suite runs). The app does the same with a GUI-thread collector (viewer.app).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()


@pytest.fixture(scope="session")
def session_qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """One qasync loop for the session, marked running, so ``asyncSlot`` tasks advance while
    pytest-qt waits. Session-wide because stopping it calls ``QApplication.exit()``, which would
    make the next test's waits return at once."""
    configure_pyqtgraph()
    apply_dark_theme(qapp)
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    loop.stop()
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def qasync_loop(session_qasync_loop: qasync.QEventLoop) -> qasync.QEventLoop:
    """The session loop, installed again for this test: a test that runs the real start-up
    (``run_viewer``) creates, closes and unsets its own loop, whichever test ran before."""
    asyncio.set_event_loop(session_qasync_loop)
    asyncio.events._set_running_loop(session_qasync_loop)
    return session_qasync_loop


@pytest.fixture
def settings(tmp_path: Any) -> ViewerSettings:
    return ViewerSettings.in_file(tmp_path / "settings.ini")


MakeMainWindow = Callable[..., MainWindow]


@pytest.fixture
def make_main_window(
    qtbot: QtBot, qasync_loop: qasync.QEventLoop, settings: ViewerSettings
) -> Iterator[MakeMainWindow]:
    """``make_main_window(**kwargs)``: a shown MainWindow with isolated settings."""
    windows: list[MainWindow] = []

    def make(**kwargs: Any) -> MainWindow:
        kwargs.setdefault("settings", settings)
        window = MainWindow(**kwargs)
        window.resize(1400, 800)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
    # Closing must not hang: every task the windows started finishes (stale results dropped).
    qtbot.waitUntil(lambda: not asyncio.all_tasks(qasync_loop), timeout=LOAD_TIMEOUT_MS)
    for window in windows:
        window.deleteLater()
    # Run the deferred deletes now, inside this test's Qt lifetime.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    # Collect the windows' Python-side cycles now, on the GUI thread: pyqtgraph items own
    # parentless Qt widgets (their context menus), and a collection that a later test's worker
    # thread happens to trigger destroys them there ("Timers cannot be stopped from another
    # thread", seen during the long FIGAN test).
    gc.collect()


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random model bundles (real engine code paths, meaningless outputs)."""
    return write_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_result(tiny_models_dir: Path) -> tuple[Radiograph, ExplanationResult]:
    """The sample explained once with the tiny models, with planted lung masks."""
    radiograph = load_radiograph(sample_radiograph_path())
    result = explain(radiograph, load_model_set(tiny_models_dir), ExplainRequest(n_frames=5))
    return radiograph, with_planted_lungs(result)


@pytest.fixture
def explained_window(
    make_main_window: MakeMainWindow,
    open_sample: Callable[[MainWindow], None],
    tiny_result: tuple[Radiograph, ExplanationResult],
) -> MainWindow:
    """A window showing the sample and the engine's (tiny-model) explanation of it."""
    radiograph, result = tiny_result
    window = make_main_window()
    open_sample(window)
    window.session.explanations.show_explanation(
        bridge(window.state.radiograph or radiograph, result)
    )
    return window


@pytest.fixture
def open_sample(qtbot: QtBot) -> Callable[[MainWindow], None]:
    """Open the bundled sample in ``window`` through the worker and wait until it is shown."""

    def open_in(window: MainWindow) -> None:
        with qtbot.waitSignal(window.image_opened, timeout=LOAD_TIMEOUT_MS):
            window.session.open_path(str(sample_radiograph_path()))

    return open_in
