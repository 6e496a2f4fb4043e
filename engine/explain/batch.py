"""Cohort mode: explain every image of a folder, one CSV row each (the paper's Section 3.2).

Resumable: rows already in ``results.csv`` are skipped. One bad file never stops the batch: it
gets a row with its one-line error. Outputs: ``results.csv`` (one row per counterfactual, with the
mean change of the whole lung field and of each zone) and the cohort report of
:mod:`engine.explain.cohort_report`: ``summary.json``, the figures (the paper's Fig. 6 and 7
among them) and ``report.html``.

Verdict columns follow docs/method.md: ``qualifies`` (the original was on the source side),
``valid`` (qualifies, and the composite as shown crossed the threshold), the oracle's verdict, and
the classifier on the generator's model-resolution output as a labelled extra. ``caution`` holds
the warning that travels with every export (``ExplanationResult.caution``: out of distribution,
invalid, non-monotonic, a verdict on a low-resolution image). When the
images sit in class folders named like the labels (``healthy/``, ``pneumoconiosis/``), the summary
also scores the classifier against them: accuracy, sensitivity and specificity at the threshold.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import CancelledError, EngineError, InputError
from engine.explain.cohort_figures import zone_column
from engine.explain.cohort_report import write_cohort_report
from engine.explain.pipeline import Direction, ExplainRequest, ExplanationResult, explain
from engine.explain.zones import Zone
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
    "qualifies",
    "valid",
    "oracle_probability",
    "oracle_probability_translated",
    "oracle_valid",
    "probability_translated_model_resolution",
    "lung_mean_original",
    "lung_mean_translated",
    "lung_mean_change",
    "lung_std_original",
    "lung_std_translated",
    *(zone_column(zone) for zone in Zone),
    "monotonic",
    "ood_score",
    "out_of_distribution",
    # Share of the lung field the counterfactual left unchanged: devices (the keep mask).
    "kept_share",
    "caution",
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
    workers: int = 1,
    scheduler: str | None = None,
    models_dir: Path | None = None,
) -> BatchSummary:
    """Explain every image under ``root`` into ``out`` (see module docstring).

    ``workers`` > 1 or a ``scheduler`` address runs the images on Dask
    (``engine.explain.distributed``); its workers load the models from ``models_dir``, the folder
    ``models`` came from. The rows are the same as the serial run's, in completion order.
    """
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS_FILE
    _check_header(results)
    done = _already_done(results)
    images = find_images(root)
    request = ExplainRequest(direction=direction, n_frames=5, with_attributions=False)
    pending = [(p, p.relative_to(root).as_posix()) for p in images]
    pending = [(p, relative) for p, relative in pending if relative not in done]
    finished = len(images) - len(pending)
    new_file = not results.exists()
    with results.open("a", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        for _relative, rows in _explained(
            pending, models, request, workers, scheduler, models_dir, cancel
        ):
            for row in rows:
                writer.writerow(row)
            stream.flush()  # a killed batch loses at most the images in progress
            finished += 1
            if progress is not None:
                progress(finished, len(images))
    if progress is not None and not pending:
        progress(len(images), len(images))
    rows = list(_read_rows(results))
    write_cohort_report(out, rows, models, request.threshold)
    failed = sum(1 for row in rows if row["status"] != "ok")
    return BatchSummary(n_images=len({row["file"] for row in rows}), n_failed=failed, out=out)


def _explained(
    pending: list[tuple[Path, str]],
    models: ModelSet,
    request: ExplainRequest,
    workers: int,
    scheduler: str | None,
    models_dir: Path | None,
    cancel: threading.Event | None,
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """``(relative path, rows)`` of each pending image: in this process, or on Dask."""
    if workers > 1 or scheduler is not None:
        if models_dir is None:
            raise InputError("a distributed batch needs the models' folder")
        from engine.explain.distributed import explain_on_dask

        yield from explain_on_dask(
            pending, models_dir, request, workers=workers, scheduler=scheduler, cancel=cancel
        )
        return
    for path, relative in pending:
        if cancel is not None and cancel.is_set():
            raise CancelledError("batch cancelled; rerun the same command to resume")
        yield relative, list(explain_rows(path, relative, models, request))


def error_row(path: Path, relative: str, error: str) -> dict[str, str]:
    """The row of an image that could not be explained (one line of error)."""
    return {
        "file": relative,
        "folder_label": path.parent.name,
        "status": "error",
        "error": " ".join(error.split()),
    }


def explain_rows(
    path: Path, relative: str, models: ModelSet, request: ExplainRequest
) -> Iterator[dict[str, str]]:
    """The CSV rows of one image: one per counterfactual, or one error row."""
    folder_label = path.parent.name
    try:
        result = explain(load_radiograph(path), models, request)
    except EngineError as error:
        yield error_row(path, relative, str(error))
        return
    yield from result_rows(result, relative, folder_label)


def result_rows(
    result: ExplanationResult, relative: str, folder_label: str
) -> Iterator[dict[str, str]]:
    """The CSV rows of one explained image, one per counterfactual."""
    caution = result.caution() or ""
    for counterfactual in result.counterfactuals:
        statistics = counterfactual.statistics
        lung = statistics.lung
        yield {
            "file": relative,
            "folder_label": folder_label,
            "status": "ok",
            "error": "",
            "probability": f"{result.probability:.6f}",
            "predicted_label": result.predicted_label,
            "direction": counterfactual.direction.value,
            "probability_translated": f"{counterfactual.probability:.6f}",
            "qualifies": _flag(counterfactual.qualifies),
            "valid": _flag(counterfactual.valid),
            "oracle_probability": _number(result.oracle_probability),
            "oracle_probability_translated": _number(counterfactual.oracle_probability),
            "oracle_valid": _flag(counterfactual.oracle_valid),
            "probability_translated_model_resolution": _number(
                counterfactual.model_resolution_probability
            ),
            "lung_mean_original": f"{lung.mean_original:.6f}",
            "lung_mean_translated": f"{lung.mean_translated:.6f}",
            "lung_mean_change": f"{lung.mean_change:.6f}",
            "lung_std_original": f"{lung.std_original:.6f}",
            "lung_std_translated": f"{lung.std_translated:.6f}",
            **{
                zone_column(zone): f"{statistics.region(f'{zone.value} zones').mean_change:.6f}"
                for zone in Zone
            },
            "monotonic": str(counterfactual.frames.monotonic).lower(),
            "ood_score": "" if result.ood_score is None else f"{result.ood_score:.4f}",
            "out_of_distribution": _flag(result.out_of_distribution),
            "kept_share": _number(result.kept_share),
            "caution": caution,
        }


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _check_header(results: Path) -> None:
    """A results file of another column set cannot be resumed (rows would not line up)."""
    if not results.exists():
        return
    with results.open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream), None)
    if header is not None and tuple(header) != COLUMNS:
        raise InputError(
            f"{results} was written by another version of cxr-explain (other columns); "
            "choose a new --out folder"
        )


def _already_done(results: Path) -> set[str]:
    return {row["file"] for row in _read_rows(results)} if results.exists() else set()


def _read_rows(results: Path) -> Iterator[dict[str, str]]:
    with results.open(newline="", encoding="utf-8") as stream:
        yield from csv.DictReader(stream)
