"""What the panes, the explanation panel and the status bar say in each state of the explanation
job: loading, computing (with the engine's stage), cancelled, failed, ready (issue 23)."""

from __future__ import annotations

import threading

import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from viewer_fakes import GatedLoader, fake_explanation

from engine.api import CancelledError, ModelError, Radiograph, sample_radiograph_path
from viewer.explanation import NO_EXPLANATION_TEXT, ExplanationChoice, StageProgress
from viewer.explanation_status import (
    CANCELLED_TEXT,
    READY_TEXT,
    ExplanationState,
    ExplanationStatus,
    computing,
)
from viewer.main_window import MainWindow

GATE_TIMEOUT_S = 30.0


class GatedExplainer:
    """Reports the engine's first stage, then waits until the test opens the gate (returns the
    fake explanation) or the job is cancelled (raises the engine's CancelledError)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.reported = threading.Event()
        self.cancelled = threading.Event()
        self.calls = 0

    def __call__(
        self,
        radiograph: Radiograph,
        choice: ExplanationChoice,
        cancel: threading.Event,
        progress: StageProgress,
    ) -> object:
        self.calls += 1
        progress(0.25, "segment")
        self.reported.set()
        waited = 0.0
        # Poll both events: a worker thread may wait; the test itself never sleeps.
        while not self.gate.wait(timeout=0.01):
            waited += 0.01
            if cancel.is_set():
                self.cancelled.set()
                raise CancelledError("explanation cancelled")
            if waited > GATE_TIMEOUT_S:
                raise TimeoutError("the test never opened the gate")
        return fake_explanation(radiograph)


def _failing_explainer(
    radiograph: Radiograph,
    choice: ExplanationChoice,
    cancel: threading.Event,
    progress: StageProgress,
) -> object:
    raise ModelError("the classifier bundle is damaged (checksum mismatch)")


def _said(window: MainWindow) -> list[str]:
    """What the translated and difference panes and the explanation panel say."""
    comparison = window.comparison
    return [
        comparison.translated._placeholder.text(),
        comparison.difference._placeholder.text(),
        window.explanation_panel.probability_detail.text(),
    ]


def _says_everywhere(window: MainWindow, text: str) -> bool:
    return _said(window) == [text] * 3


@pytest.fixture
def explainer() -> GatedExplainer:
    return GatedExplainer()


@pytest.fixture
def computing_window(
    make_main_window: MakeMainWindow, explainer: GatedExplainer, qtbot: QtBot
) -> MainWindow:
    """The sample opened; its explanation is computing, past the engine's first stage."""
    window = make_main_window(explainer=explainer)
    with qtbot.waitSignal(window.image_opened, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    qtbot.waitUntil(explainer.reported.is_set, timeout=LOAD_TIMEOUT_MS)
    return window


def test_computing_says_so_with_the_engine_stage_not_models_not_loaded(
    computing_window: MainWindow, explainer: GatedExplainer, qtbot: QtBot
) -> None:
    window = computing_window
    expected = "Computing the explanation… 25 % (segment finished)"
    # The stage comes from the worker through the event loop.
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == expected)
    assert _says_everywhere(window, expected), _said(window)
    assert window.session.status.state is ExplanationState.COMPUTING
    assert window.comparison.translated._placeholder.isVisible()

    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        explainer.gate.set()

    assert window.session.status.state is ExplanationState.READY
    assert window.comparison.translated.has_image
    assert not window.comparison.translated._placeholder.isVisible()
    assert window.statusBar().currentMessage() == READY_TEXT


def test_cancel_says_how_to_compute_again_and_stays_cancelled(
    computing_window: MainWindow, explainer: GatedExplainer, qtbot: QtBot
) -> None:
    window = computing_window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)

    with qtbot.waitSignal(window.explanation_status_changed) as changed:
        qtbot.keyClick(window, Qt.Key.Key_Escape)

    assert changed.args == [ExplanationState.CANCELLED.value]
    assert _says_everywhere(window, CANCELLED_TEXT), _said(window)
    assert window.statusBar().currentMessage() == CANCELLED_TEXT
    # The engine stopped and the job ended: nothing puts "Computing…" back.
    qtbot.waitUntil(lambda: explainer.cancelled.is_set() and not window.session.jobs.busy)
    assert window.session.status.state is ExplanationState.CANCELLED
    assert _says_everywhere(window, CANCELLED_TEXT), _said(window)

    # The key the text names computes it again.
    explainer.gate.set()
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        qtbot.keyClick(window, Qt.Key.Key_E)
    assert explainer.calls == 2
    assert window.comparison.difference.has_image


def test_the_cancel_button_cancels_like_esc(
    computing_window: MainWindow, explainer: GatedExplainer, qtbot: QtBot
) -> None:
    window = computing_window
    assert window.cancel_button.isVisible()

    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: not window.session.jobs.busy)
    assert _says_everywhere(window, CANCELLED_TEXT), _said(window)


def test_a_failed_explanation_shows_its_one_line_error(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    window = make_main_window(explainer=_failing_explainer)

    with qtbot.waitSignal(window.error_reported, timeout=LOAD_TIMEOUT_MS) as error:
        window.session.open_path(str(sample_radiograph_path()))

    message = error.args[0]
    assert message == "No explanation: the classifier bundle is damaged (checksum mismatch)"
    assert _says_everywhere(window, message), _said(window)
    assert window.session.status.state is ExplanationState.FAILED
    window.errors.dialog.close()


def test_opening_an_image_says_so_until_it_is_shown(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    loader = GatedLoader()
    window = make_main_window(loader=loader)

    window.session.open_path("/nowhere/slow_chest.dcm")
    qtbot.waitUntil(loader.slow_started.is_set, timeout=LOAD_TIMEOUT_MS)

    opening = "Opening slow_chest.dcm…"
    qtbot.waitUntil(lambda: window.comparison.original._placeholder.text() == opening)
    assert window.session.status.state is ExplanationState.LOADING
    assert window.explanation_panel.probability_detail.text() == opening
    assert window.statusBar().currentMessage() == opening

    with qtbot.waitSignal(window.image_opened, timeout=LOAD_TIMEOUT_MS):
        loader.gate.set()
    # No models: now, and only now, the panes say so.
    assert window.session.status.state is ExplanationState.NO_MODELS
    assert _says_everywhere(window, NO_EXPLANATION_TEXT), _said(window)


def test_opening_another_image_cancels_the_running_explanation(
    computing_window: MainWindow, explainer: GatedExplainer, qtbot: QtBot
) -> None:
    window = computing_window

    window.session.open_path(str(sample_radiograph_path()))

    # The single worker is freed for the image at once instead of after the explanation.
    qtbot.waitUntil(explainer.cancelled.is_set, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: explainer.calls == 2, timeout=LOAD_TIMEOUT_MS)
    assert window.session.status.state is ExplanationState.COMPUTING
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        explainer.gate.set()


def test_status_texts() -> None:
    assert computing("Exploring feature 1 (FIGAN)").text == "Exploring feature 1 (FIGAN)…"
    status = computing("Computing the explanation").with_progress(0.35, "classify")
    assert status.text == "Computing the explanation… 35 % (classify finished)"
    done = status.with_progress(1.0, "done")
    assert done.text == "Computing the explanation… 100 %"
    assert ExplanationStatus(ExplanationState.NO_MODELS).text == NO_EXPLANATION_TEXT
    assert "press E" in CANCELLED_TEXT
