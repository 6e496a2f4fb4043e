"""Score the classifier and its explanations against phantom ground truth, through files.

For ``n`` paired phantoms (one anatomy, healthy and diseased; anatomy seeds held out from
training), each pair is written to disk (PNG or DICOM, 256-1024 px, as a user's files would be),
read back with ``load_radiograph`` and explained with the same ``explain`` the viewer calls: the
diseased image toward healthy, the healthy image toward disease. The lungs come from the
segmenter, as in use. The truth is the planted change, expressed in the explanation's own
intensity units: toward healthy ``I(healthy) - I(diseased)`` with the diseased file's model window
applied to both files (so 8-bit storage and windowing are part of the truth, not an error).

Sections of the report (``validation.json``; every number with ``n`` and a bootstrap 95 % interval
over pairs):

- ``classifier`` / ``oracle``: accuracy, sensitivity and specificity at the threshold, ROC AUC.
- ``validity``: per direction, how many counterfactuals qualified (the original on the source side),
  the share of those whose composite, as shown, crossed the threshold; the oracle's verdict on its
  own qualifying images; the classifier on the generator's model-resolution output (an extra, not a
  verdict); COUT.
- ``fidelity`` (toward healthy, diseased images): signed NCC with the truth in the lungs, relative
  error of the mean lung change, leakage outside the lungs, device-pixel change ratio, and the
  paper's darker/brighter shares.
- ``localisation``: the difference map against Grad-CAM (a layer of at least 16 x 16), the input
  gradient, Integrated Gradients and a random map, as detectors of the planted opacity disks: IoU
  at lesion area, ROC AUC, PR AUC, pointing game.

What it cannot show: phantoms are not patients; the truth is the planted change, which is what an
ideal counterfactual removes only if the classifier reads the disease (and not a shortcut). A high
fidelity score on phantoms is necessary, not sufficient, for trust on real radiographs.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import CancelledError
from engine.explain import scoring
from engine.explain.cout import DEFAULT_STEPS, cout, transition_curve
from engine.explain.pipeline import Direction, ExplainRequest, ExplanationResult, explain
from engine.explain.plots import histogram_png
from engine.explain.validate_findings import by_finding, finding_fields
from engine.explain.validate_findings import markdown_lines as finding_lines
from engine.inference.model_input import model_window
from engine.inference.model_set import ModelSet
from engine.io import load_radiograph
from engine.phantoms import DEFAULT_RECIPE, RECIPES, DiseaseRecipe, Phantom, generate_pair
from engine.phantoms.dicom import write_dicom
from engine.types import ImageInfo, Radiograph, SourceFormat, VoiFunction, VoiPreset, readonly

_LESION_THRESHOLD = 1e-4  # phantom units: what counts as "the disease added something here"
MAPS = ("difference", "gradcam", "gradient", "integrated_gradients", "random")
BASELINE_MAPS = ("gradcam", "gradient", "integrated_gradients")
LOCALISATION_METRICS = ("iou", "roc_auc", "pr_auc", "pointing")
#: Slider frames per explanation: enough for the monotonic check to mean something.
SLIDER_FRAMES = 5


class FileFormat(StrEnum):
    PNG = "png"
    DICOM = "dicom"


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """``n`` paired phantoms, anatomy seeds ``seed .. seed + n - 1``, findings from ``recipe``;
    pair ``i`` is ``sizes[i % len]`` px, stored as ``formats[i % len]``.

    The defaults match the shipped models' training recipe; its anatomies use seeds 0-999, so
    seed 1000 on is held out. ``work``: where the files go (a temporary folder when None).
    """

    n: int = 40
    seed: int = 1000
    sizes: tuple[int, ...] = (256, 512, 1024)
    formats: tuple[FileFormat, ...] = (FileFormat.PNG, FileFormat.DICOM)
    recipe: DiseaseRecipe = DEFAULT_RECIPE
    integrated_gradients: bool = True
    cout_steps: int = DEFAULT_STEPS
    bootstrap: int = 1000
    threshold: float = 0.5
    work: Path | None = None

    def __post_init__(self) -> None:
        if self.n < 2:
            raise ValueError(f"n must be at least 2 (intervals need two pairs), got {self.n}")
        if not self.sizes or min(self.sizes) < 32:
            raise ValueError(f"sizes must be at least 32, got {self.sizes}")
        if not self.formats:
            raise ValueError("formats must name at least one file format")
        object.__setattr__(self, "formats", tuple(FileFormat(f) for f in self.formats))
        if self.cout_steps < 1:
            raise ValueError(f"cout_steps must be at least 1, got {self.cout_steps}")
        if self.bootstrap < 100:
            raise ValueError(f"bootstrap must be at least 100, got {self.bootstrap}")


def phantom_radiograph(image: np.ndarray) -> Radiograph:
    """A phantom image as a ``Radiograph`` whose display is the image itself (in memory; the
    validation itself goes through files)."""
    window = VoiPreset("phantom", 0.5, 1.0, VoiFunction.LINEAR_EXACT)
    info = ImageInfo(SourceFormat.PNG, int(image.shape[0]), int(image.shape[1]))
    return Radiograph(readonly(np.array(image, dtype=np.float32)), (window,), False, info)


def write_phantom_file(path_stem: Path, image: np.ndarray, kind: FileFormat, **dicom: Any) -> Path:
    """``image`` in ``[0, 1]`` as an 8-bit PNG or a 12-bit DICOM file; returns the path."""
    if kind is FileFormat.PNG:
        path = path_stem.with_suffix(".png")
        Image.fromarray(np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)).save(path)
        return path
    path = path_stem.with_suffix(".dcm")
    write_dicom(path, np.asarray(image, dtype=np.float32), **dicom)
    return path


def validate(
    models: ModelSet,
    config: ValidationConfig,
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The report of the module docstring as a JSON-ready dict (``per_pair`` included)."""
    rng = np.random.default_rng(config.seed)
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cxr-validate-") as scratch:
        work = config.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        for index in range(config.n):
            if cancel is not None and cancel.is_set():
                raise CancelledError("validation cancelled")
            disease = config.recipe.draw(rng)
            size = config.sizes[index % len(config.sizes)]
            phantom = generate_pair(config.seed + index, disease, size=size)
            kind = config.formats[index % len(config.formats)]
            record = _score_pair(phantom, models, config, work, index, kind)
            records.append(record | finding_fields(disease))
            if progress is not None:
                progress(index + 1, config.n)
    return _aggregate(records, models, config)


def _write_pair(
    phantom: Phantom, work: Path, index: int, kind: FileFormat, seed: int
) -> tuple[Path, Path]:
    paths = []
    for label, image in (("healthy", phantom.healthy_image), ("pneumoconiosis", phantom.image)):
        folder = work / label
        folder.mkdir(exist_ok=True)
        paths.append(
            write_phantom_file(
                folder / f"pair_{index:04d}",
                np.asarray(image),
                kind,
                index=index,
                seed=seed,
                spacing_mm=phantom.spacing_mm,
            )
        )
    return paths[0], paths[1]


def _score_pair(
    phantom: Phantom,
    models: ModelSet,
    config: ValidationConfig,
    work: Path,
    index: int,
    kind: FileFormat,
) -> dict[str, float]:
    healthy_path, diseased_path = _write_pair(phantom, work, index, kind, config.seed)
    healthy, diseased = load_radiograph(healthy_path), load_radiograph(diseased_path)
    threshold = config.threshold
    to_healthy = explain(
        diseased,
        models,
        ExplainRequest(direction=Direction.TO_HEALTHY, n_frames=SLIDER_FRAMES, threshold=threshold),
    )
    to_disease = explain(
        healthy,
        models,
        ExplainRequest(
            direction=Direction.TO_DISEASE,
            n_frames=SLIDER_FRAMES,
            with_attributions=False,
            threshold=threshold,
        ),
    )
    lungs = phantom.lungs
    record: dict[str, float] = {
        "size": float(phantom.image.shape[0]),
        "dicom": float(kind is FileFormat.DICOM),
        "p_healthy": to_disease.probability,
        "p_diseased": to_healthy.probability,
        "out_of_distribution": float(
            np.mean([to_healthy.out_of_distribution, to_disease.out_of_distribution])
        ),
    }
    if to_healthy.oracle_probability is not None and to_disease.oracle_probability is not None:
        record["oracle_p_healthy"] = to_disease.oracle_probability
        record["oracle_p_diseased"] = to_healthy.oracle_probability
    for name, result, source, target in (
        ("to_healthy", to_healthy, diseased, healthy),
        ("to_disease", to_disease, healthy, diseased),
    ):
        record.update(_verdicts(name, result, models, config.cout_steps))
        truth = _true_change(source, target)
        difference = result.primary.difference
        record[f"change_{name}"] = float(difference[lungs].mean())
        record[f"true_change_{name}"] = float(truth[lungs].mean())
        record[f"signed_ncc_{name}"] = scoring.ncc(difference[lungs], truth[lungs])
        record[f"mean_change_relative_error_{name}"] = scoring.relative_error(
            float(difference[lungs].mean()), float(truth[lungs].mean())
        )
        record[f"leakage_{name}"] = scoring.leakage(difference, lungs)
        record[f"device_change_ratio_{name}"] = scoring.device_change_ratio(
            difference, phantom.foreign_mask, lungs
        )
    lesion = focal_lesions(phantom)
    for map_name, values in _maps(to_healthy, models, diseased, lungs, config, index).items():
        record[f"iou_{map_name}"] = scoring.iou_at_area(values, lesion, lungs)
        roc, pr = scoring.detection_aucs(values, lesion, lungs)
        record[f"roc_auc_{map_name}"] = roc
        record[f"pr_auc_{map_name}"] = pr
        record[f"pointing_{map_name}"] = scoring.pointing_game(values, lesion, lungs)
    return record


def _true_change(source: Radiograph, target: Radiograph) -> np.ndarray:
    """The planted change in the explanation's intensity units: both files through the source
    file's model window (the window the explanation of ``source`` works in)."""
    window = model_window(source)
    return target.display(window) - source.display(window)


def _verdicts(
    name: str, result: ExplanationResult, models: ModelSet, steps: int
) -> dict[str, float]:
    counterfactual = result.primary
    threshold = result.threshold
    to_disease = counterfactual.direction is Direction.TO_DISEASE
    out = {
        f"qualifies_{name}": float(counterfactual.qualifies),
        f"valid_{name}": float(counterfactual.valid) if counterfactual.qualifies else np.nan,
        f"oracle_valid_{name}": (
            np.nan if counterfactual.oracle_valid is None else float(counterfactual.oracle_valid)
        ),
        f"monotonic_{name}": float(counterfactual.frames.monotonic),
        f"cout_{name}": np.nan,
        f"valid_model_resolution_{name}": np.nan,
    }
    model_resolution = counterfactual.model_resolution_probability
    if counterfactual.qualifies and model_resolution is not None:
        out[f"valid_model_resolution_{name}"] = float((model_resolution >= threshold) == to_disease)
    if counterfactual.qualifies:
        lung = result.right_lung | result.left_lung
        curve = transition_curve(
            models.classifier, result.original, counterfactual.translated, lung, steps
        )
        out[f"cout_{name}"] = cout(curve, counterfactual.direction)
    return out


def _maps(
    result: ExplanationResult,
    models: ModelSet,
    radiograph: Radiograph,
    lungs: np.ndarray,
    config: ValidationConfig,
    index: int,
) -> dict[str, np.ndarray]:
    maps = {"difference": np.abs(result.primary.difference)}
    if result.attributions is not None:
        maps["gradcam"] = result.attributions.gradcam
        maps["gradient"] = result.attributions.gradient
    if config.integrated_gradients:
        from engine.explain.attribution import integrated_gradients

        lung = result.right_lung | result.left_lung
        maps["integrated_gradients"] = integrated_gradients(
            models.classifier, result.original, lung
        )
    maps["random"] = scoring.random_map(lungs.shape, config.seed + index)
    return maps


def captum_available() -> bool:
    """Integrated Gradients needs Captum (the ``research`` extra; not in the desktop bundle)."""
    from importlib.util import find_spec

    return find_spec("captum") is not None


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


# --------------------------------------------------------------------------- aggregation


def _statistic(values: Sequence[float], config: ValidationConfig, salt: int) -> dict[str, Any]:
    """``{"mean", "ci95", "n"}`` of the finite values (mean None when there are none)."""
    finite = [float(v) for v in values if np.isfinite(v)]
    interval = scoring.bootstrap_interval(
        finite, resamples=config.bootstrap, seed=config.seed + salt
    )
    return {
        "mean": float(np.mean(finite)) if finite else None,
        "ci95": None if interval is None else list(interval),
        "n": len(finite),
    }


def _classification(
    records: list[dict[str, Any]], prefix: str, config: ValidationConfig
) -> dict[str, Any] | None:
    healthy_key, diseased_key = f"{prefix}p_healthy", f"{prefix}p_diseased"
    if not all(healthy_key in r and diseased_key in r for r in records):
        return None
    t = config.threshold
    negatives = [float(r[healthy_key] < t) for r in records]
    positives = [float(r[diseased_key] >= t) for r in records]
    pairs = [(a + b) / 2.0 for a, b in zip(negatives, positives, strict=True)]
    healthy = np.asarray([r[healthy_key] for r in records])
    diseased = np.asarray([r[diseased_key] for r in records])
    return {
        "threshold": t,
        "accuracy": _statistic(pairs, config, 1),
        "sensitivity": _statistic(positives, config, 2),
        "specificity": _statistic(negatives, config, 3),
        "roc_auc": _auc_with_interval(healthy, diseased, config),
        "n_images": 2 * len(records),
    }


def _auc(healthy: np.ndarray, diseased: np.ndarray) -> float:
    """ROC AUC as P(diseased score > healthy score) with ties halved."""
    greater = (diseased[:, None] > healthy[None, :]).mean()
    ties = (diseased[:, None] == healthy[None, :]).mean()
    return float(greater + 0.5 * ties)


def _auc_with_interval(
    healthy: np.ndarray, diseased: np.ndarray, config: ValidationConfig
) -> dict[str, Any]:
    rng = np.random.default_rng(config.seed + 4)
    n = len(healthy)
    draws = rng.integers(0, n, size=(config.bootstrap, n))
    values = [_auc(healthy[d], diseased[d]) for d in draws]
    low, high = np.percentile(values, [2.5, 97.5])
    return {"mean": _auc(healthy, diseased), "ci95": [float(low), float(high)], "n": 2 * n}


def _aggregate(
    records: list[dict[str, Any]], models: ModelSet, config: ValidationConfig
) -> dict[str, Any]:
    def stat(key: str, salt: int) -> dict[str, Any]:
        return _statistic([r.get(key, np.nan) for r in records], config, salt)

    validity: dict[str, Any] = {}
    for salt, name in enumerate(("to_healthy", "to_disease"), start=10):
        validity[name] = {
            "n_qualifying": int(sum(r[f"qualifies_{name}"] for r in records)),
            "valid_displayed": stat(f"valid_{name}", salt),
            "valid_oracle": stat(f"oracle_valid_{name}", salt + 20),
            "valid_model_resolution_extra": stat(f"valid_model_resolution_{name}", salt + 40),
            "monotonic": stat(f"monotonic_{name}", salt + 60),
            "cout": stat(f"cout_{name}", salt + 80),
        }
    to_healthy_changes = [r["change_to_healthy"] for r in records]
    to_disease_changes = [r["change_to_disease"] for r in records]
    fidelity = {
        "signed_ncc_to_healthy": stat("signed_ncc_to_healthy", 200),
        "signed_ncc_to_disease": stat("signed_ncc_to_disease", 201),
        "mean_change_relative_error_to_healthy": stat("mean_change_relative_error_to_healthy", 202),
        "median_mean_change_relative_error_to_healthy": _median(
            [r["mean_change_relative_error_to_healthy"] for r in records]
        ),
        "leakage_outside_lungs_to_healthy": stat("leakage_to_healthy", 203),
        "device_change_ratio_to_healthy": stat("device_change_ratio_to_healthy", 204),
        "share_darker_to_healthy": _statistic(
            [float(c < 0) for c in to_healthy_changes], config, 205
        ),
        "share_brighter_to_disease": _statistic(
            [float(c > 0) for c in to_disease_changes], config, 206
        ),
    }
    localisation: dict[str, Any] = {}
    for salt, map_name in enumerate(MAPS, start=300):
        if not any(f"iou_{map_name}" in r for r in records):
            continue
        localisation[map_name] = {
            metric: stat(f"{metric}_{map_name}", salt * 10 + k)
            for k, metric in enumerate(LOCALISATION_METRICS)
        }
    return {
        "model": models.version_label(),
        "n_pairs": len(records),
        "phantoms": {
            "seed": config.seed,
            "sizes": list(config.sizes),
            "formats": [f.value for f in config.formats],
            "findings": next(
                (name for name, recipe in RECIPES.items() if recipe == config.recipe), "custom"
            ),
            **config.recipe.to_dict(),
        },
        "threshold": config.threshold,
        "share_out_of_distribution": stat("out_of_distribution", 5),
        "classifier": _classification(records, "", config),
        "oracle": _classification(records, "oracle_", config),
        "validity": validity,
        "fidelity": fidelity,
        "localisation": localisation,
        "by_finding": by_finding(
            records, config.threshold, lambda values, salt: _statistic(values, config, salt)
        ),
        "integrated_gradients": (
            "computed"
            if "integrated_gradients" in localisation
            else "off"
            if not config.integrated_gradients
            else "skipped: Captum is not installed (pip install 'cxr-explain[research]')"
        ),
        "targets": _targets(validity, fidelity, localisation, records, config),
        "per_pair": records,
    }


def _median(values: Sequence[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.median(finite)) if finite else None


def _mean(block: dict[str, Any] | None) -> float | None:
    return None if block is None else block["mean"]


def _targets(
    validity: dict[str, Any],
    fidelity: dict[str, Any],
    localisation: dict[str, Any],
    records: list[dict[str, Any]],
    config: ValidationConfig,
) -> list[dict[str, Any]]:
    """Issue 10 and 11's targets with the measured value and whether each is met."""
    classifier = _classification(records, "", config) or {}
    rows: list[tuple[str, float | None, str, bool | None]] = []

    def at_least(name: str, value: float | None, goal: float) -> None:
        rows.append((name, value, f">= {goal:g}", None if value is None else value >= goal))

    def at_most(name: str, value: float | None, goal: float) -> None:
        rows.append((name, value, f"<= {goal:g}", None if value is None else value <= goal))

    at_least("classifier accuracy", _mean(classifier.get("accuracy")), 0.97)
    at_least("classifier specificity", _mean(classifier.get("specificity")), 0.95)
    for name in ("to_healthy", "to_disease"):
        at_least(
            f"validity on the displayed image, {name}",
            _mean(validity[name]["valid_displayed"]),
            0.95,
        )
        at_least(f"oracle validity, {name}", _mean(validity[name]["valid_oracle"]), 0.85)
    at_least("signed NCC, to healthy", _mean(fidelity["signed_ncc_to_healthy"]), 0.7)
    at_most(
        "median relative error of the mean lung change",
        fidelity["median_mean_change_relative_error_to_healthy"],
        0.15,
    )
    at_least("share darker toward healthy", _mean(fidelity["share_darker_to_healthy"]), 0.95)
    at_most("device / lung change ratio", _mean(fidelity["device_change_ratio_to_healthy"]), 0.2)
    difference = localisation.get("difference", {}).get("iou")
    baselines = [localisation[m]["iou"] for m in BASELINE_MAPS if m in localisation]
    if difference is not None and baselines:
        best = max(baselines, key=lambda b: b["mean"] if b["mean"] is not None else -1.0)
        met = None
        if difference["mean"] is not None and best["mean"] is not None:
            separated = (
                difference["ci95"] is not None
                and best["ci95"] is not None
                and difference["ci95"][0] > best["ci95"][1]
            )
            met = difference["mean"] >= 2 * best["mean"] and separated
        ratio = (
            None
            if not difference["mean"] or not best["mean"]
            else difference["mean"] / best["mean"]
        )
        rows.append(("difference IoU / best baseline IoU", ratio, ">= 2, intervals apart", met))
    return [
        {"target": name, "value": value, "goal": goal, "met": met}
        for name, value, goal, met in rows
    ]


# --------------------------------------------------------------------------- report files


def write_report(
    report: dict[str, Any], out: Path, extra_markdown: Sequence[str] = ()
) -> list[Path]:
    """``validation.json``, ``validation.md`` (plus ``extra_markdown`` lines, e.g. the FIGAN
    section) and the two mean-change histograms."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "validation.json"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    records = report["per_pair"]
    paths = [json_path]
    for direction in ("to_healthy", "to_disease"):
        plot = out / f"mean_change_{direction}.png"
        histogram_png(
            [r[f"change_{direction}"] for r in records],
            f"Mean lung change, {direction.replace('_', ' ')} (n = {len(records)})",
            "mean of (translated - original) in the lungs, intensity units",
        ).save(plot)
        paths.append(plot)
    markdown = out / "validation.md"
    text = markdown_report(report)
    if extra_markdown:
        text = text.rstrip("\n") + "\n\n" + "\n".join(extra_markdown) + "\n"
    markdown.write_text(text, encoding="utf-8")
    paths.append(markdown)
    return paths


def _range(bounds: list[float]) -> str:
    return f"{bounds[0]:g}-{bounds[1]:g}"


def cell(block: dict[str, Any] | None) -> str:
    """``mean [low, high] (n)`` of a statistic, or n/a."""
    if block is None or block.get("mean") is None:
        return "n/a"
    interval = block.get("ci95")
    spread = "" if interval is None else f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return f"{block['mean']:.3f}{spread} (n={block['n']})"


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown_report(report: dict[str, Any]) -> str:
    phantoms = report["phantoms"]
    lines = [
        "# Validation against phantom ground truth, through files",
        "",
        f"Models: `{report['model']}`; {report['n_pairs']} held-out paired phantoms (anatomy seeds "
        f"from {phantoms['seed']}; sizes {', '.join(str(s) for s in phantoms['sizes'])} px; "
        f"files {' / '.join(phantoms['formats'])}; findings "
        f"'{phantoms.get('findings', 'custom')}': ILO profusion 1-3, types "
        f"{'/'.join(phantoms['opacity_types'])}, haze {_range(phantoms['haze_range'])} in "
        f"{100 * phantoms['haze_probability']:.0f} % of findings, opacity "
        f"contrast {_range(phantoms['opacity_density_range'])} x). Each file was read with "
        "`load_radiograph` and explained with `explain` (segmenter lungs), as the viewer does. "
        "Every number: mean [bootstrap 95 % interval over pairs] (n).",
        "",
        f"Images flagged out of distribution: {cell(report['share_out_of_distribution'])}.",
        "",
        *([f"Command: `{report['command']}`.", ""] if report.get("command") else []),
        "## Targets",
        "",
        "| target | value | goal | met |",
        "|---|---:|---|---|",
    ]
    for row in report["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        lines.append(f"| {row['target']} | {_value(row['value'])} | {row['goal']} | {met} |")
    lines += [
        "",
        f"## Classifiers at threshold {report['threshold']:g}",
        "",
        "| | accuracy | sensitivity | specificity | ROC AUC |",
        "|---|---|---|---|---|",
    ]
    for name in ("classifier", "oracle"):
        block = report[name]
        if block is None:
            continue
        lines.append(
            f"| {name} | {cell(block['accuracy'])} | {cell(block['sensitivity'])} | "
            f"{cell(block['specificity'])} | {cell(block['roc_auc'])} |"
        )
    lines += [
        "",
        "## Validity (docs/method.md): among qualifying images",
        "",
        "| direction | qualifying | valid as displayed | oracle valid | model-resolution "
        "(extra, not a verdict) | monotonic slider | COUT |",
        "|---|---:|---|---|---|---|---|",
    ]
    for name, block in report["validity"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {block['n_qualifying']} | "
            f"{cell(block['valid_displayed'])} | {cell(block['valid_oracle'])} | "
            f"{cell(block['valid_model_resolution_extra'])} | {cell(block['monotonic'])} | "
            f"{cell(block['cout'])} |"
        )
    lines += ["", "## Fidelity to the planted change", "", "| metric | value |", "|---|---|"]
    for key, block in report["fidelity"].items():
        text = cell(block) if isinstance(block, dict) or block is None else _value(block)
        lines.append(f"| {key.replace('_', ' ')} | {text} |")
    lines += [
        "",
        "## Localisation of the planted opacities (diseased images, toward healthy)",
        "",
        "| map | IoU at lesion area | ROC AUC | PR AUC | pointing game |",
        "|---|---|---|---|---|",
    ]
    for map_name, block in report["localisation"].items():
        lines.append(
            f"| {map_name.replace('_', ' ')} | "
            + " | ".join(cell(block[m]) for m in LOCALISATION_METRICS)
            + " |"
        )
    if report.get("by_finding"):
        lines += ["", *finding_lines(report["by_finding"], cell)]
    if report.get("integrated_gradients", "computed") != "computed":
        lines += ["", f"Integrated Gradients: {report['integrated_gradients']}."]
    lines += [
        "",
        "![to healthy](mean_change_to_healthy.png) ![to disease](mean_change_to_disease.png)",
        "",
    ]
    return "\n".join(lines)
