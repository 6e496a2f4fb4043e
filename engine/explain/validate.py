"""Score explanations against phantom ground truth (what no public tool in this field can do).

For ``n`` paired phantoms (same anatomy healthy and diseased): explain the diseased image toward
healthy and the healthy image toward disease, then compare with the truth. The true change toward
healthy is ``-lesion_map``; toward disease it is ``+lesion_map``.

Metrics (``validation.json``):
- ``flip_rate_to_healthy`` / ``flip_rate_to_disease``: share of valid counterfactuals.
- ``iou_at_lesion_area_{difference,gradcam,gradient}``: the top-k pixels of each map, with k the
  lesion's pixel count, against the mask of the planted small opacities (:func:`focal_lesions`;
  IoU; mean over diseased images with a lesion).
- ``roc_auc_*`` / ``pr_auc_*``: the same maps as lesion detectors over the true lung pixels.
- ``signed_ncc``: normalised cross-correlation of the signed difference (to healthy) with the true
  change ``-lesion_map`` inside the lungs.
- ``mean_change_relative_error``: |predicted - true| / |true| of the lung mean change (to healthy).
- ``leakage_outside_lungs``: share of |difference| mass outside the true lungs.
- ``share_darker_to_healthy`` / ``share_brighter_to_disease``: the paper's finding.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CancelledError
from engine.explain.pipeline import Direction, ExplainRequest, ExplanationResult, explain
from engine.explain.plots import histogram_png
from engine.inference.model_set import ModelSet
from engine.phantoms import DEFAULT_RECIPE, DiseaseRecipe, Phantom, generate_pair
from engine.types import ImageInfo, Radiograph, SourceFormat, VoiFunction, VoiPreset, readonly

_LESION_THRESHOLD = 1e-4  # display units: what counts as "the disease added something here"
MAPS = ("difference", "gradcam", "gradient")
#: The headline numbers, in report order (the per-map localisation follows them).
HEADLINE_METRICS = (
    "flip_rate_to_healthy",
    "flip_rate_to_disease",
    "signed_ncc",
    "mean_change_relative_error",
    "leakage_outside_lungs",
    "share_darker_to_healthy",
    "share_brighter_to_disease",
)


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """``n`` paired phantoms, anatomy seeds ``seed .. seed + n - 1``, findings from ``recipe``.

    The defaults match the shipped models' training recipe; its anatomies use seeds 0-999, so
    seed 1000 on is held out.
    """

    n: int = 40
    seed: int = 1000
    size: int = 256
    recipe: DiseaseRecipe = DEFAULT_RECIPE

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.size < 32:
            raise ValueError(f"size must be at least 32, got {self.size}")


def phantom_radiograph(image: np.ndarray) -> Radiograph:
    """A phantom image as a ``Radiograph`` whose display is the image itself."""
    window = VoiPreset("phantom", 0.5, 1.0, VoiFunction.LINEAR_EXACT)
    info = ImageInfo(SourceFormat.PNG, int(image.shape[0]), int(image.shape[1]))
    return Radiograph(readonly(np.array(image, dtype=np.float32)), (window,), False, info)


def validate(
    models: ModelSet,
    config: ValidationConfig,
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    rng = np.random.default_rng(config.seed)
    records: list[dict[str, float]] = []
    for index in range(config.n):
        if cancel is not None and cancel.is_set():
            raise CancelledError("validation cancelled")
        disease = config.recipe.draw(rng)
        phantom = generate_pair(config.seed + index, disease, size=config.size)
        records.append(_score_pair(phantom, models))
        if progress is not None:
            progress(index + 1, config.n)
    return _aggregate(records, models, config)


def _score_pair(phantom: Phantom, models: ModelSet) -> dict[str, float]:
    to_healthy = explain(
        phantom_radiograph(phantom.image),
        models,
        ExplainRequest(direction=Direction.TO_HEALTHY, n_frames=2),
    )
    to_disease = explain(
        phantom_radiograph(phantom.healthy_image),
        models,
        ExplainRequest(direction=Direction.TO_DISEASE, n_frames=2, with_attributions=False),
    )
    lungs = phantom.lungs
    lesion = focal_lesions(phantom)
    difference = to_healthy.primary.difference
    record: dict[str, float] = {
        "valid_to_healthy": float(to_healthy.primary.valid),
        "valid_to_disease": float(to_disease.primary.valid),
        "change_to_healthy": to_healthy.primary.statistics.lung.mean_change,
        "change_to_disease": to_disease.primary.statistics.lung.mean_change,
        "signed_ncc": ncc(difference[lungs], -phantom.lesion_map[lungs]),
        "leakage_outside_lungs": _leakage(difference, lungs),
    }
    if to_healthy.ood_score is not None and to_disease.ood_score is not None:
        flags = (to_healthy.out_of_distribution, to_disease.out_of_distribution)
        record["out_of_distribution"] = float(np.mean(flags))
    true_change = float(-phantom.lesion_map[lungs].mean())
    predicted_change = float(difference[lungs].mean())
    record["mean_change_relative_error"] = (
        abs(predicted_change - true_change) / abs(true_change) if true_change else float("nan")
    )
    for name, values in _maps(to_healthy).items():
        record[f"iou_{name}"] = _iou_at_area(values, lesion, lungs)
        record.update(_detection(name, values, lesion, lungs))
    return record


def _maps(result: ExplanationResult) -> dict[str, np.ndarray]:
    maps = {"difference": np.abs(result.primary.difference)}
    if result.attributions is not None:
        maps["gradcam"] = result.attributions.gradcam
        maps["gradient"] = result.attributions.gradient
    return maps


def focal_lesions(phantom: Phantom) -> np.ndarray:
    """The planted small opacities as a mask (disks of their drawn diameter, >= 1 px) in the lungs.

    Localisation is scored against these, not against every pixel the disease changed: a diffuse
    haze changes the whole lung field, and "the whole lung" would make any map localise perfectly.
    Without drawn opacities (haze only) the changed pixels are the lesion.
    """
    lungs = phantom.lungs
    if len(phantom.opacities) == 0:
        return (phantom.lesion_map > _LESION_THRESHOLD) & lungs  # blur spills past the mask
    grid = np.indices(lungs.shape, dtype=np.float32)
    rows, columns = grid[0], grid[1]
    mask = np.zeros(lungs.shape, bool)
    for row, column, diameter_mm in np.asarray(phantom.opacities, dtype=np.float32):
        radius = max(0.5 * float(diameter_mm) / phantom.spacing_mm, 1.0)
        top, bottom = int(max(row - radius - 1, 0)), int(min(row + radius + 2, lungs.shape[0]))
        left, right = (
            int(max(column - radius - 1, 0)),
            int(min(column + radius + 2, lungs.shape[1])),
        )
        window = (slice(top, bottom), slice(left, right))
        inside = (rows[window] - row) ** 2 + (columns[window] - column) ** 2 <= radius**2
        mask[window] |= inside
    return mask & lungs


def _iou_at_area(values: np.ndarray, lesion: np.ndarray, lungs: np.ndarray) -> float:
    area = int(lesion.sum())
    if area == 0:
        return float("nan")
    scores = np.where(lungs, values, -np.inf).ravel()
    flat_top = np.zeros(scores.size, bool)
    flat_top[np.argpartition(scores, -area)[-area:]] = True
    top = flat_top.reshape(values.shape)
    return float((top & lesion).sum() / (top | lesion).sum())


def _detection(name: str, values: np.ndarray, lesion: np.ndarray, lungs: np.ndarray) -> dict:
    # Imported here: scikit-learn takes ~1 s to import, and every cxr-explain command imports
    # this module through the subcommand registry.
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth, scores = lesion[lungs], values[lungs]
    if truth.all() or not truth.any():
        return {f"roc_auc_{name}": float("nan"), f"pr_auc_{name}": float("nan")}
    return {
        f"roc_auc_{name}": float(roc_auc_score(truth, scores)),
        f"pr_auc_{name}": float(average_precision_score(truth, scores)),
    }


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation (Pearson) of two equal-size arrays; NaN if one is flat."""
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def _leakage(difference: np.ndarray, lungs: np.ndarray) -> float:
    magnitude = np.abs(difference)
    total = float(magnitude.sum())
    return float(magnitude[~lungs].sum() / total) if total > 0 else 0.0


def _mean(records: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in records if key in r and np.isfinite(r[key])]
    return float(np.mean(values)) if values else None


def _aggregate(
    records: list[dict[str, float]], models: ModelSet, config: ValidationConfig
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "model": models.version_label(),
        "n_images": len(records),
        "phantoms": {"seed": config.seed, "size": config.size, **config.recipe.to_dict()},
        "share_out_of_distribution": _mean(records, "out_of_distribution"),
        "flip_rate_to_healthy": _mean(records, "valid_to_healthy"),
        "flip_rate_to_disease": _mean(records, "valid_to_disease"),
        "signed_ncc": _mean(records, "signed_ncc"),
        "mean_change_relative_error": _mean(records, "mean_change_relative_error"),
        "leakage_outside_lungs": _mean(records, "leakage_outside_lungs"),
        "share_darker_to_healthy": float(np.mean([r["change_to_healthy"] < 0 for r in records])),
        "share_brighter_to_disease": float(np.mean([r["change_to_disease"] > 0 for r in records])),
    }
    for name in MAPS:
        report[f"iou_at_lesion_area_{name}"] = _mean(records, f"iou_{name}")
        report[f"roc_auc_{name}"] = _mean(records, f"roc_auc_{name}")
        report[f"pr_auc_{name}"] = _mean(records, f"pr_auc_{name}")
    report["per_image"] = records
    return report


def write_report(
    report: dict[str, Any], out: Path, extra_markdown: Sequence[str] = ()
) -> list[Path]:
    """``validation.json``, ``validation.md`` (plus ``extra_markdown`` lines, e.g. the FIGAN
    section) and the two mean-change histograms."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "validation.json"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    records = report["per_image"]
    paths = [json_path]
    for direction in ("to_healthy", "to_disease"):
        plot = out / f"mean_change_{direction}.png"
        histogram_png(
            [r[f"change_{direction}"] for r in records],
            f"Mean lung change, {direction.replace('_', ' ')} (n = {len(records)})",
            "mean of (translated - original) in the lungs, display units",
        ).save(plot)
        paths.append(plot)
    markdown = out / "validation.md"
    text = _markdown(report)
    if extra_markdown:
        text = text.rstrip("\n") + "\n\n" + "\n".join(extra_markdown) + "\n"
    markdown.write_text(text, encoding="utf-8")
    paths.append(markdown)
    return paths


def _range(bounds: list[float]) -> str:
    return f"{bounds[0]:g}-{bounds[1]:g}"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Validation against phantom ground truth",
        "",
        f"Models: `{report['model']}`; {report['n_images']} paired phantoms (anatomy seeds from "
        f"{report['phantoms']['seed']}, {report['phantoms']['size']} px; findings: ILO "
        f"profusion 1-3, types {'/'.join(report['phantoms']['opacity_types'])}, haze "
        f"{_range(report['phantoms']['haze_range'])}, opacity contrast "
        f"{_range(report['phantoms']['opacity_density_range'])} x).",
        "",
        "Share of the images flagged out of distribution: "
        f"{_fmt(report['share_out_of_distribution'])}.",
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    for key in HEADLINE_METRICS:
        lines.append(f"| {key} | {_fmt(report[key])} |")
    lines += [
        "",
        "Lesion localisation (diseased images, toward healthy):",
        "",
        "| map | IoU at lesion area | ROC AUC | PR AUC |",
        "|---|---:|---:|---:|",
    ]
    for name in MAPS:
        lines.append(
            f"| {name} | {_fmt(report[f'iou_at_lesion_area_{name}'])} | "
            f"{_fmt(report[f'roc_auc_{name}'])} | {_fmt(report[f'pr_auc_{name}'])} |"
        )
    lines += [
        "",
        "![to healthy](mean_change_to_healthy.png) ![to disease](mean_change_to_disease.png)",
        "",
    ]
    return "\n".join(lines)
