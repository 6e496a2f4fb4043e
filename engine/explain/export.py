"""Write an explanation to a folder: images, the float difference, statistics JSON and a GIF.

No output carries a patient identifier: images are built from arrays, file names are fixed, and
the JSON holds only display-safe fields.

A warning travels with the picture: when the explanation is out of distribution, invalid, not a
counterfactual, non-monotonic or a verdict on a low-resolution image
(``ExplanationResult.caution``), a red band naming the reasons is
added above every exported PNG and into every GIF frame, the float TIFF carries it in its image
description, and ``stats.json`` states it. The lung mask is data and stays unmarked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from engine.atomic import atomic_path
from engine.explain.difference import render_difference, symmetric_limit
from engine.explain.gif import CAUTION_PREFIX, GifOptions, caution_band, write_gif
from engine.explain.pipeline import Counterfactual, ExplanationResult
from engine.explain.statistics import LungStatistics
from engine.types import FloatImage

OUTPUT_FILES = (
    "original.png",
    "translated.png",
    "difference.png",
    "difference.tiff",
    "lung_mask.png",
    "gradcam.png",
    "stats.json",
)
#: Written beside them when the explanation has a keep mask (a device segmenter, or one given).
KEEP_MASK_FILE = "keep_mask.png"


def export_explanation(result: ExplanationResult, folder: Path, *, gif: bool = True) -> list[Path]:
    """Write the primary counterfactual's outputs (and ``explanation.gif``) into ``folder``.

    The image files are encoded in two threads: Pillow's encoders and zlib release the GIL, so
    two files take little longer than one (docs/benchmarks.md).
    """
    folder.mkdir(parents=True, exist_ok=True)
    primary = result.primary
    lung = result.right_lung | result.left_lung
    caution = result.caution()

    def marked(pixels: np.ndarray) -> np.ndarray:
        return pixels if caution is None else with_caution_band(pixels, caution)

    jobs: list[Callable[[], Path]] = [
        lambda: _save_png(folder / "original.png", marked(_to_uint8(result.original)), caution),
        lambda: _save_png(
            folder / "translated.png", marked(_to_uint8(primary.translated)), caution
        ),
        lambda: _save_png(
            folder / "difference.png",
            marked(render_difference(primary.difference, symmetric_limit(primary.difference))),
            caution,
        ),
        lambda: _save_tiff(folder / "difference.tiff", primary.difference, caution),
        lambda: _save_png(folder / "lung_mask.png", (lung * 255).astype(np.uint8)),
    ]
    keep = result.keep
    if keep is not None:  # what every counterfactual left unchanged (devices)
        jobs.append(lambda: _save_png(folder / KEEP_MASK_FILE, (keep * 255).astype(np.uint8)))
    attributions = result.attributions
    if attributions is not None:
        jobs.append(
            lambda: _save_png(
                folder / "gradcam.png", marked(_to_uint8(attributions.gradcam)), caution
            )
        )
    jobs.append(lambda: _save_json(folder / "stats.json", summary(result)))
    if gif:
        options = GifOptions(description=gif_description(result), caution=caution)
        jobs.append(
            lambda: write_gif(folder / "explanation.gif", result.original, primary.frames, options)
        )
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="export") as pool:
        pending = [pool.submit(job) for job in jobs]
        # result() re-raises a job's error (e.g. OSError for a full disk) after all have ended.
        return [job.result() for job in pending]


def summary(result: ExplanationResult) -> dict[str, Any]:
    """Display-safe JSON summary of a result."""
    return {
        "model": result.model_label,
        "probability_pneumoconiosis": result.probability,
        "predicted_label": result.predicted_label,
        "threshold": result.threshold,
        "counterfactuals": [_counterfactual_summary(c) for c in result.counterfactuals],
        "timings_s": dict(result.timings),
        "caution": result.caution(),
        "warnings": list(result.warnings),
        "ood_score": result.ood_score,
        "out_of_distribution": result.out_of_distribution,
        "segmentation_uncertainty": result.segmentation_uncertainty,
        "oracle_probability_pneumoconiosis": result.oracle_probability,
        "kept_unchanged": kept_summary(result),
        "intensity": "every image is the model-intensity image: the 0.5-99.5 percentile window "
        "of the modality values, polarity applied, [0, 1] (docs/method.md)",
        "difference_convention": "translated - original in intensity units [0, 1]; "
        "difference.png: mid-gray = no change, brighter = increase, darker = decrease",
        "validity_definition": "qualifies: the original was on the source side of the "
        "threshold; valid: qualifies and the translated image as shown, classified again "
        "through the same input path, crossed it; oracle_valid: the same for the independent "
        "oracle classifier (null when it does not qualify or there is none); "
        "probability_translated_model_resolution: the classifier on the generator's own "
        "output, not a verdict",
    }


def kept_summary(result: ExplanationResult) -> dict[str, Any] | None:
    """The keep mask in numbers: pixels no counterfactual changed (devices), None without one."""
    if result.keep is None or result.kept_share is None:
        return None  # no keep mask, or no lung field to measure it in
    lung = result.right_lung | result.left_lung
    return {
        "pixels_in_lung_field": int((result.keep & lung).sum()),
        "share_of_lung_field": result.kept_share,
        "definition": "pixels every counterfactual leaves unchanged (keep_mask.png): foreign "
        "objects (pacemaker, wires, ECG leads) marked by the device segmenter and grown by at "
        "least half a generator pixel, or the keep mask the caller gave",
    }


def gif_description(result: ExplanationResult) -> str:
    """The GIF's header line: the direction and the two models that made the frames (the
    generator of that direction and the classifier whose probability each frame shows)."""
    direction = result.primary.direction
    generator = (
        "generator_to_healthy" if direction.value == "to-healthy" else "generator_to_disease"
    )
    models = [
        word
        for word in result.model_label.split()
        if word.startswith(("classifier@", f"{generator}@"))
    ]
    return "  ".join([direction.value, *models])


def with_caution_band(pixels: np.ndarray, caution: str) -> np.ndarray:
    """``pixels`` (gray ``(H, W)`` or RGB ``(H, W, 3)`` uint8) with a red band above naming the
    caution; RGB out. The image's own pixels are kept, not painted over."""
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=-1)
    width = int(rgb.shape[1])
    band = caution_band(caution, width, max(14, round(0.04 * max(rgb.shape[0], width))))
    return np.concatenate([np.asarray(band, dtype=np.uint8), rgb], axis=0)


def _counterfactual_summary(counterfactual: Counterfactual) -> dict[str, Any]:
    return {
        "direction": counterfactual.direction.value,
        "probability_translated": counterfactual.probability,
        "qualifies": counterfactual.qualifies,
        "valid": counterfactual.valid,
        "verdict": counterfactual.verdict,
        "oracle_probability_translated": counterfactual.oracle_probability,
        "oracle_valid": counterfactual.oracle_valid,
        "probability_translated_model_resolution": (counterfactual.model_resolution_probability),
        "frame_probabilities": list(counterfactual.frames.probabilities),
        "monotonic": counterfactual.frames.monotonic,
        "lung_statistics": _statistics_summary(counterfactual.statistics),
    }


def _statistics_summary(statistics: LungStatistics) -> dict[str, Any]:
    return {
        "units": statistics.units,
        "regions": [
            asdict(region) | {"mean_change": region.mean_change} for region in statistics.regions
        ],
        "change_histogram": {
            "edges": statistics.histogram_edges.tolist(),
            "counts": statistics.histogram_counts.tolist(),
        },
    }


def _to_uint8(image: FloatImage) -> np.ndarray:
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    with atomic_path(path) as temporary:
        write(temporary)
    return path


def _save_png(path: Path, pixels: np.ndarray, caution: str | None = None) -> Path:
    info = None
    if caution is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("Warning", caution)
    return _atomic_write(
        path,
        lambda target: Image.fromarray(pixels).save(
            target, format="PNG", compress_level=1, pnginfo=info
        ),
    )


# TIFF tag 270, ImageDescription: where a float image carries its caution.
_TIFF_DESCRIPTION = 270


def _save_tiff(path: Path, values: FloatImage, caution: str | None = None) -> Path:
    description = "translated - original, intensity units" + (
        f"; {CAUTION_PREFIX}{caution}" if caution else ""
    )
    return _atomic_write(
        path,
        lambda target: Image.fromarray(values.astype(np.float32), "F").save(
            target, format="TIFF", tiffinfo={_TIFF_DESCRIPTION: description}
        ),
    )


def _save_json(path: Path, content: dict[str, Any]) -> Path:
    text = json.dumps(content, indent=2, allow_nan=True)
    return _atomic_write(path, lambda target: Path(target).write_text(text, encoding="utf-8"))
