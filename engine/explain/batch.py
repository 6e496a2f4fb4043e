"""Cohort mode: explain every image of a folder, one CSV row each (the paper's Section 3.2).

Resumable: rows already in ``results.csv`` are skipped. One bad file never stops the batch: it
gets a row with its one-line error. Outputs: ``results.csv``, ``summary.json`` and the two
histograms of per-image mean lung change, one per direction (the paper's Fig. 6 and 7).
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CancelledError, EngineError
from engine.explain.pipeline import Direction, ExplainRequest, explain
from engine.explain.plots import histogram_png
from engine.inference.model_set import ModelSet
from engine.io import load_radiograph

IMAGE_SUFFIXES = {".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ""}
COLUMNS = (
    "file",
    "folder_label",
    "status",
    "error",
    "probability",
    "predicted_label",
    "direction",
    "probability_translated",
    "valid",
    "lung_mean_original",
    "lung_mean_translated",
    "lung_mean_change",
    "lung_std_original",
    "lung_std_translated",
    "monotonic",
    "ood_score",
)
RESULTS_FILE = "results.csv"


@dataclass(frozen=True, slots=True)
class BatchSummary:
    n_images: int
    n_failed: int
    out: Path


def find_images(root: Path) -> list[Path]:
    """Image-like files under ``root`` in a stable order (hidden files and our outputs skipped)."""
    files = [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.suffix.lower() in IMAGE_SUFFIXES
        and path.name not in ("manifest.csv", "manifest.json")
        and "masks" not in path.relative_to(root).parts[:-1]
        and "lesions" not in path.relative_to(root).parts[:-1]
    ]
    return files


def run_batch(
    root: Path,
    out: Path,
    models: ModelSet,
    direction: Direction = Direction.BOTH,
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchSummary:
    """Explain every image under ``root`` into ``out`` (see module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS_FILE
    done = _already_done(results)
    images = find_images(root)
    request = ExplainRequest(direction=direction, n_frames=5, with_attributions=False)
    new_file = not results.exists()
    with results.open("a", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        for index, path in enumerate(images):
            if cancel is not None and cancel.is_set():
                raise CancelledError("batch cancelled; rerun the same command to resume")
            relative = path.relative_to(root).as_posix()
            if relative not in done:
                for row in _rows(path, relative, models, request):
                    writer.writerow(row)
                stream.flush()  # a killed batch loses at most the image in progress
            if progress is not None:
                progress(index + 1, len(images))
    rows = list(_read_rows(results))
    _write_summary(out, rows, models)
    failed = sum(1 for row in rows if row["status"] != "ok")
    return BatchSummary(n_images=len({row["file"] for row in rows}), n_failed=failed, out=out)


def _rows(path: Path, relative: str, models: ModelSet, request: ExplainRequest) -> Iterator[dict]:
    folder_label = path.parent.name
    try:
        result = explain(load_radiograph(path), models, request)
    except EngineError as error:
        yield {
            "file": relative,
            "folder_label": folder_label,
            "status": "error",
            "error": " ".join(str(error).split()),
        }
        return
    for counterfactual in result.counterfactuals:
        lung = counterfactual.statistics.lung
        yield {
            "file": relative,
            "folder_label": folder_label,
            "status": "ok",
            "error": "",
            "probability": f"{result.probability:.6f}",
            "predicted_label": result.predicted_label,
            "direction": counterfactual.direction.value,
            "probability_translated": f"{counterfactual.probability:.6f}",
            "valid": str(counterfactual.valid).lower(),
            "lung_mean_original": f"{lung.mean_original:.6f}",
            "lung_mean_translated": f"{lung.mean_translated:.6f}",
            "lung_mean_change": f"{lung.mean_change:.6f}",
            "lung_std_original": f"{lung.std_original:.6f}",
            "lung_std_translated": f"{lung.std_translated:.6f}",
            "monotonic": str(counterfactual.frames.monotonic).lower(),
            "ood_score": "" if result.ood_score is None else f"{result.ood_score:.4f}",
        }


def _already_done(results: Path) -> set[str]:
    return {row["file"] for row in _read_rows(results)} if results.exists() else set()


def _read_rows(results: Path) -> Iterator[dict[str, str]]:
    with results.open(newline="", encoding="utf-8") as stream:
        yield from csv.DictReader(stream)


def _write_summary(out: Path, rows: list[dict[str, str]], models: ModelSet) -> None:
    summary: dict[str, Any] = {"model": models.version_label(), "directions": {}}
    for direction in (Direction.TO_HEALTHY, Direction.TO_DISEASE):
        changes = [
            float(r["lung_mean_change"])
            for r in rows
            if r["status"] == "ok" and r["direction"] == direction.value
        ]
        valid = [
            r["valid"] == "true"
            for r in rows
            if r["status"] == "ok" and r["direction"] == direction.value
        ]
        summary["directions"][direction.value] = {
            "n": len(changes),
            "mean_lung_change": float(np.mean(changes)) if changes else None,
            "share_darker": float(np.mean([c < 0 for c in changes])) if changes else None,
            "share_brighter": float(np.mean([c > 0 for c in changes])) if changes else None,
            "flip_rate": float(np.mean(valid)) if valid else None,
        }
        histogram_png(
            changes,
            f"Per-image mean lung change, {direction.value} (n = {len(changes)})",
            "mean of (translated - original) in the lungs, display units",
        ).save(out / f"histogram_{direction.value}.png")
    summary["failed"] = [
        {"file": r["file"], "error": r["error"]} for r in rows if r["status"] != "ok"
    ]
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
