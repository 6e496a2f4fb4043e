"""Benchmark: how long the viewer's event loop stalls while a real explanation runs.

Opens the bundled sample (1024 x 1024) in the real main window, then runs the explanation
``--repeats`` times on the worker while a 5 ms ``QTimer`` probe (``viewer.stall_probe``) records
every gap in the GUI event loop. Two numbers per run:

- *while the model runs*: stalls that end before the worker returns the result (GIL contention
  from the worker, anything the GUI thread does meanwhile);
- *while showing*: stalls after that, until the panes, statistics and overlays are drawn
  (GUI-thread work on the result).

Models: ``resources/models`` when it holds a model set, else tiny random models from
``engine.testing.write_tiny_models`` at ``--model-size`` (the image itself stays full size), or the
folder given with ``--models``. Offscreen unless ``QT_QPA_PLATFORM`` is set.

Usage: ``python benchmarks/bench_event_loop.py [--models DIR] [--model-size 256] [--repeats 3]``.
The issue's target is a stall of at most 50 ms; the machine may be shared, so compare rows of one
run and read the maxima as upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import qasync
from PySide6.QtCore import SignalInstance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.api import Radiograph, default_models_dir, sample_radiograph_path
from engine.testing import write_tiny_models
from viewer.app import ensure_application
from viewer.engine_bridge import engine_explainer
from viewer.explanation import (
    Explanation,
    ExplanationChoice,
    ExplanationProvider,
    StageProgress,
)
from viewer.main_window import MainWindow
from viewer.settings import ViewerSettings
from viewer.stall_probe import StallProbe

TIMEOUT_S = 600.0
REQUIRED_BUNDLES = ("classifier", "generator_to_disease", "generator_to_healthy")


class TimedExplainer:
    """Wraps a provider and records (on the worker) when each explanation was returned."""

    def __init__(self, inner: ExplanationProvider) -> None:
        self._inner = inner
        self.returned_at: list[float] = []
        self.seconds: list[float] = []

    def __call__(
        self,
        radiograph: Radiograph,
        choice: ExplanationChoice,
        cancel: threading.Event,
        progress: StageProgress,
    ) -> Explanation:
        start = time.perf_counter()
        explanation = self._inner(radiograph, choice, cancel, progress)
        now = time.perf_counter()
        self.seconds.append(now - start)
        self.returned_at.append(now)
        return explanation


def _models(args: argparse.Namespace, scratch: Path) -> tuple[Path, str]:
    if args.models:
        return Path(args.models), f"models from {Path(args.models).name}"
    shipped = default_models_dir()
    complete = all((shipped / name).is_dir() for name in REQUIRED_BUNDLES)
    if complete and not args.tiny:
        return shipped, "shipped models (resources/models)"
    folder = write_tiny_models(scratch / "tiny-models", size=args.model_size)
    return folder, f"tiny random models at {args.model_size} x {args.model_size} model input"


async def _wait(window: MainWindow, signal: SignalInstance, action: Callable[[], object]) -> None:
    """Run ``action`` and wait for ``signal``; an error the window reports ends the benchmark."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finish(*_args: object) -> None:
        if not done.done():
            done.set_result(None)

    def fail(message: str) -> None:
        if not done.done():
            done.set_exception(RuntimeError(message))

    signal.connect(finish)
    window.error_reported.connect(fail)
    try:
        action()
        await asyncio.wait_for(done, TIMEOUT_S)
    finally:
        signal.disconnect(finish)
        window.error_reported.disconnect(fail)


async def _measure(
    window: MainWindow, explainer: TimedExplainer, repeats: int
) -> list[dict[str, float]]:
    # Opening the sample starts the first explanation (warm-up: model loading, first run).
    await _wait(
        window,
        window.explanation_shown,
        lambda: window.session.open_path(str(sample_radiograph_path())),
    )
    probe = StallProbe()
    rows = []
    for _ in range(repeats):
        probe.start()
        started = time.perf_counter()
        await _wait(
            window, window.explanation_shown, window.session.explanations.request_explanation
        )
        shown = time.perf_counter()
        probe.stop()
        returned = explainer.returned_at[-1]
        gaps = sorted(stall.ms for stall in probe.stalls)
        rows.append(
            {
                "explain_s": explainer.seconds[-1],
                "total_s": shown - started,
                "model_ms": probe.max_stall_ms(end=returned),
                "show_ms": probe.max_stall_ms(start=returned),
                "p99_ms": gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))] if gaps else 0.0,
                "ticks": probe.ticks,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="model folder (default: shipped, else tiny)")
    parser.add_argument("--tiny", action="store_true", help="use tiny models even if shipped")
    parser.add_argument("--model-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    app = ensure_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="bench-event-loop-") as scratch:
        models, description = _models(args, Path(scratch))
        explainer = TimedExplainer(engine_explainer(models))
        window = MainWindow(
            ViewerSettings.in_file(Path(scratch) / "settings.ini"),
            explainer=explainer,
            models_dir=models,
        )
        window.resize(1500, 860)
        window.show()
        try:
            rows = loop.run_until_complete(_measure(window, explainer, args.repeats))
        finally:
            window.close()
    print(f"\nEvent-loop stalls (5 ms QTimer probe), sample 1024 x 1024, {description}\n")
    print(
        "| run | explain s | total s | max stall, model running ms | max stall, showing ms "
        "| p99 gap ms | ticks |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for index, row in enumerate(rows, 1):
        print(
            f"| {index} | {row['explain_s']:.2f} | {row['total_s']:.2f} | {row['model_ms']:.1f} "
            f"| {row['show_ms']:.1f} | {row['p99_ms']:.1f} | {row['ticks']} |"
        )
    worst = max(max(row["model_ms"], row["show_ms"]) for row in rows)
    median = statistics.median(row["model_ms"] for row in rows)
    print(f"\nworst stall {worst:.1f} ms; median worst-while-running {median:.1f} ms (target 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
