"""What the trial scripts share (``trial_classifier.py``, ``trial_generator.py``): the recipe's
phantom set, and a training pace that stops a run which cannot finish inside a borrowed
machine's call."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any


def recipe_phantoms(work: Path, plan: Any, workers: int) -> Path:
    """``WORK/phantoms``: the recipe's phantom set of ``plan`` (seed 0, as the shipped models'),
    reused when it is there."""
    from engine.training.defaults_data import reusable_data_set, write_phantom_dataset

    data = work / "phantoms"
    if not reusable_data_set(data, plan, 0):
        write_phantom_dataset(data, plan, 0, workers=workers)
    return data


class Pace:
    """A training progress callback: prints the pace now and then, and sets :attr:`stop` (give
    it as the run's cancel event) once the steps are projected to take longer than
    ``budget_s``, checked from 5 % of them on: on a borrowed machine a run that cannot finish
    inside the call should say so early, not be killed with nothing written."""

    def __init__(self, budget_s: float | None) -> None:
        self.budget_s = budget_s
        self.stop = threading.Event()
        # The first step seen and when it ended: loading the data is not a step, and a resumed
        # run starts past step 1.
        self.first: tuple[int, float] | None = None
        self.printed = 0.0

    def __call__(self, step: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (step, now)
            return
        first_step, first_time = self.first
        elapsed = now - first_time
        projected = elapsed / (step - first_step) * (total - first_step)
        if elapsed - self.printed >= 30 or step == total:
            self.printed = elapsed
            print(f"training step {step}/{total}, {elapsed:.0f} s, projected {projected:.0f} s")
        if self.budget_s is not None and step >= 0.05 * total and projected > self.budget_s:
            print(f"stopping: training projected {projected:.0f} s > budget {self.budget_s:g} s")
            self.stop.set()
