"""The files a run writes beside its checkpoints: metrics, test metrics and sample grids.

Logging: one CSV row per step in ``OUT/metrics.csv`` (TensorBoard too when importable), sample
grids ``OUT/samples/epoch_NNNN.png``, the test metrics in ``OUT/test_metrics.json``. Every file is
written atomically (:func:`engine.atomic.atomic_path`) except the CSV, which grows a row at a time.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from engine.atomic import atomic_path

METRICS_CSV = "metrics.csv"
TEST_METRICS_JSON = "test_metrics.json"
SAMPLES_FOLDER = "samples"


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: non-finite floats as None (JSON has no NaN), numpy scalars
    as Python numbers, mappings with string keys, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(
            json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )


def write_grid(path: Path, rows: Sequence[Sequence[npt.NDArray[np.float32]]]) -> None:
    """Write rows of ``[0, 1]`` images as one 8-bit PNG with a 2 px gap."""
    rows = [row for row in rows if row]
    if not rows:
        return
    size = rows[0][0].shape[0]
    gap = 2
    columns = max(len(row) for row in rows)
    canvas = np.full(
        (len(rows) * (size + gap) - gap, columns * (size + gap) - gap), 0.5, dtype=np.float32
    )
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            top, left = r * (size + gap), c * (size + gap)
            canvas[top : top + size, left : left + size] = image
    pixels = np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)
    with atomic_path(path) as temporary:
        Image.fromarray(pixels).save(temporary, format="PNG")


def to_display(tensor: torch.Tensor) -> npt.NDArray[np.float32]:
    """``(1, S, S)`` or ``(S, S)`` model units ``[-1, 1]`` -> display ``[0, 1]`` numpy."""
    array = tensor.detach().float().cpu().numpy().reshape(tensor.shape[-2:])
    return np.clip((array + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


class MetricsLog:
    """``OUT/metrics.csv``: a row per step (epoch, step, lr, losses); TensorBoard if importable."""

    def __init__(self, out: Path, columns: Sequence[str], resume_step: int | None) -> None:
        self.path = out / METRICS_CSV
        self.columns = ["epoch", "step", "lr", *columns, "seconds"]
        if resume_step is not None and self.path.is_file():
            self._truncate(resume_step)
        elif resume_step is None:
            self.path.unlink(missing_ok=True)  # a fresh run starts a fresh log
        new = not self.path.is_file()
        self._handle: TextIO = self.path.open("a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        if new:
            self._writer.writerow(self.columns)
        self._board: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional dependency
        except ImportError:
            pass
        else:
            self._board = SummaryWriter(log_dir=str(out / "tensorboard"))

    def _truncate(self, step: int) -> None:
        """Drop rows after ``step``: a killed run may have logged steps the checkpoint lacks."""
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        kept = [rows[0]] + [r for r in rows[1:] if len(r) > 1 and int(r[1]) <= step] if rows else []
        with atomic_path(self.path) as temporary, temporary.open("w", newline="") as handle:
            csv.writer(handle).writerows(kept)

    def write(
        self, epoch: int, step: int, lr: float, losses: Mapping[str, float], seconds: float
    ) -> None:
        # A loss a step could not measure (e.g. no pair in its batch) is an empty cell.
        cells = [f"{losses[name]:.6g}" if name in losses else "" for name in self.columns[3:-1]]
        self._writer.writerow([epoch, step, f"{lr:.6g}", *cells, f"{seconds:.3f}"])
        self._handle.flush()
        if self._board is not None:
            for name, value in losses.items():
                self._board.add_scalar(f"loss/{name}", value, step)

    def close(self) -> None:
        self._handle.close()
        if self._board is not None:
            self._board.close()
