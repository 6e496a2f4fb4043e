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
  verdict); COUT; the *faithful ceiling* of each judge: the same verdict on the planted change
  band-limited to the generator's grid (what a generator of that size could reach by drawing the
  finding itself).
- ``fidelity`` (toward healthy, diseased images): signed NCC with the truth in the lungs, relative
  error of the mean lung change, the change's size relative to the truth's (RMS ratio, geometric
  mean; 1 = as large as the finding, which alone proves nothing: docs/method.md), leakage outside
  the lungs, device-pixel change ratio, and the paper's darker/brighter shares.
- ``localisation``: the difference map against Grad-CAM (a layer of at least 16 x 16), the input
  gradient, Integrated Gradients and a random map, as detectors of the planted opacity disks: IoU
  at lesion area, ROC AUC, PR AUC, pointing game.

What it cannot show: phantoms are not patients; the truth is the planted change, which is what an
ideal counterfactual removes only if the classifier reads the disease (and not a shortcut). A high
fidelity score on phantoms is necessary, not sufficient, for trust on real radiographs.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import CancelledError
from engine.explain import scoring
from engine.explain.cout import cout, transition_curve
from engine.explain.pipeline import (
    Direction,
    ExplainRequest,
    ExplanationResult,
    crossed,
    explain,
)
from engine.explain.validate_config import (
    SLIDER_FRAMES,
    FileFormat,
    ValidationConfig,
)
from engine.explain.validate_findings import finding_fields
from engine.explain.validate_summary import aggregate
from engine.geometry import Letterbox, from_model, to_model
from engine.inference.model_input import model_window
from engine.inference.model_set import ModelSet
from engine.inference.run import classify, model_size
from engine.io import load_radiograph
from engine.phantoms import Phantom, generate_pair
from engine.phantoms.dicom import write_dicom
from engine.phantoms.population import extras_for_seed
from engine.types import ImageInfo, Radiograph, SourceFormat, VoiFunction, VoiPreset, readonly

_LESION_THRESHOLD = 1e-4  # phantom units: what counts as "the disease added something here"


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
            extras = extras_for_seed(
                config.seed + index, config.foreign_object_probability, config.breast_probability
            )
            phantom = generate_pair(config.seed + index, disease, size=size, **extras.as_options())
            kind = config.formats[index % len(config.formats)]
            record = _score_pair(phantom, models, config, work, index, kind)
            records.append(record | finding_fields(disease, extras))
            if progress is not None:
                progress(index + 1, config.n)
    return aggregate(records, models, config)


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
        truth = true_change(source, target)
        record.update(_ceiling(name, result, truth, models))
        difference = result.primary.difference
        record[f"change_{name}"] = float(difference[lungs].mean())
        record[f"true_change_{name}"] = float(truth[lungs].mean())
        record[f"signed_ncc_{name}"] = scoring.ncc(difference[lungs], truth[lungs])
        record[f"mean_change_relative_error_{name}"] = scoring.relative_error(
            float(difference[lungs].mean()), float(truth[lungs].mean())
        )
        record[f"change_size_ratio_{name}"] = scoring.change_size_ratio(
            difference[lungs], truth[lungs]
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


def true_change(source: Radiograph, target: Radiograph) -> np.ndarray:
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


def band_limited(change: np.ndarray, size: int) -> np.ndarray:
    """``change`` as a generator on a ``size`` px model grid can draw it: placed on that grid
    (letterboxed, antialiased) and mapped back onto the file, as the pipeline maps a change."""
    box = Letterbox.fit((int(change.shape[0]), int(change.shape[1])), size)
    return from_model(to_model(change, box, fill=0.0), box)


def _ceiling(
    name: str, result: ExplanationResult, truth: np.ndarray, models: ModelSet
) -> dict[str, float]:
    """Whether the planted change, band-limited to what this direction's generator can draw,
    crosses each judge's threshold: the validity a *faithful* generator of that size could reach.

    The generator computes its change on its own model grid and the pipeline maps it back onto
    the file and adds it inside the lung field, less the keep mask; the ideal change goes the same
    way (``to_model`` / ``from_model``). Only qualifying images count (NaN otherwise), as for
    validity. A generator whose validity as shown exceeds this ceiling moves the judge by
    something other than the finding (benchmarks/measure_change_resolution.py).
    """
    counterfactual = result.primary
    direction = counterfactual.direction
    generator = models.to_disease if direction is Direction.TO_DISEASE else models.to_healthy
    band = band_limited(truth, model_size(generator))
    lung = result.right_lung | result.left_lung
    edit = lung if result.keep is None else lung & ~result.keep
    ideal = np.clip(result.original + np.where(edit, band, 0.0), 0.0, 1.0).astype(np.float32)
    threshold = result.threshold
    out = {f"ceiling_valid_{name}": np.nan, f"oracle_ceiling_valid_{name}": np.nan}
    if counterfactual.qualifies:
        probability = float(classify(models.classifier, [ideal], lung)[0])
        out[f"ceiling_valid_{name}"] = float(crossed(probability, threshold, direction))
    oracle_side = result.oracle_probability
    if (
        models.oracle is not None
        and oracle_side is not None
        and not crossed(oracle_side, threshold, direction)
    ):
        probability = float(classify(models.oracle, [ideal], lung)[0])
        out[f"oracle_ceiling_valid_{name}"] = float(crossed(probability, threshold, direction))
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
