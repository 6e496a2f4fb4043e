"""The GUI event loop keeps running while a real (tiny-model) explanation runs on the worker.

A 5 ms timer probe records every gap in the event loop. The issue's target is 50 ms
(``benchmarks/bench_event_loop.py`` reports the real numbers). The bounds here are generous because
test machines are shared: a starved process stalls whatever the code does (on a loaded 2-core
machine a tiny-model explanation took 5 s instead of 1 s, with 0.7 s gaps). So the bound while the
model runs scales with the job: at most ``MODEL_RUNNING_BOUND_MS`` or ``MAX_BLOCKED_FRACTION`` of
the job's duration, whichever is larger. It fails when the GUI thread runs the model itself (the
stall is then the whole job) or the worker holds the GIL for most of it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from conftest import MakeMainWindow
from pytestqt.qtbot import QtBot

from engine.api import Radiograph, sample_radiograph_path
from viewer.engine_bridge import engine_explainer
from viewer.explanation import Direction, Explanation, StageProgress
from viewer.stall_probe import StallProbe

EXPLAIN_TIMEOUT_MS = 120_000
MODEL_RUNNING_BOUND_MS = 500.0  # stall while the worker explains (unloaded machine)
MAX_BLOCKED_FRACTION = 0.5  # ... or this fraction of the job on a loaded one
SHOWING_BOUND_MS = 1_000.0  # stall while the GUI thread shows the result


class _Timed:
    """Records on the worker when the explanation was handed back."""

    def __init__(self, models: Path) -> None:
        self._inner = engine_explainer(models)
        self.started_at = 0.0
        self.returned_at = 0.0

    def __call__(
        self,
        radiograph: Radiograph,
        direction: Direction,
        cancel: threading.Event,
        progress: StageProgress,
    ) -> Explanation:
        self.started_at = time.perf_counter()
        explanation = self._inner(radiograph, direction, cancel, progress)
        self.returned_at = time.perf_counter()
        return explanation


def test_event_loop_is_not_blocked_while_a_model_runs(
    make_main_window: MakeMainWindow, qtbot: QtBot, tiny_models_dir: Path
) -> None:
    explainer = _Timed(tiny_models_dir)
    window = make_main_window(explainer=explainer)
    with qtbot.waitSignal(window.explanation_shown, timeout=EXPLAIN_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))  # warm-up: loads the models

    probe = StallProbe()
    probe.start()
    with qtbot.waitSignal(window.explanation_shown, timeout=EXPLAIN_TIMEOUT_MS):
        window.session.explanations.request_explanation()
    probe.stop()

    running = probe.max_stall_ms(explainer.started_at, explainer.returned_at)
    showing = probe.max_stall_ms(start=explainer.returned_at)
    job_ms = (explainer.returned_at - explainer.started_at) * 1000.0
    print(f"max stall {running:.0f} ms during a {job_ms:.0f} ms job, {showing:.0f} ms showing")
    assert probe.ticks > 10, "the probe timer never ran: the loop was blocked throughout"
    assert running < max(MODEL_RUNNING_BOUND_MS, MAX_BLOCKED_FRACTION * job_ms)
    assert showing < SHOWING_BOUND_MS


def test_probe_sees_a_blocked_loop(qtbot: QtBot) -> None:
    probe = StallProbe(interval_ms=5)
    probe.start()
    qtbot.waitUntil(lambda: probe.ticks >= 3, timeout=5000)
    time.sleep(0.12)  # deliberately block the GUI thread: what the probe must measure
    qtbot.waitUntil(lambda: probe.ticks >= 5, timeout=5000)
    probe.stop()
    assert probe.max_stall_ms() >= 100.0
