"""Write one explanation as DICOM objects into a folder (``explain --dicom``, the viewer's export).

Files (each its own series in the source's study):

- ``translated.dcm``: Secondary Capture of the translated image (the primary counterfactual);
- ``difference.dcm``: Secondary Capture of the rendered difference (128 = no change, full scale
  = +-limit intensity units; the window and the limit are in the header);
- ``difference_map.dcm``: Parametric Map of the signed float difference (= ``difference.tiff``);
- ``lungs.dcm``: Segmentation of the right and left lung the explanation used;
- ``report.dcm``: Comprehensive SR (TID 1500) with the probabilities, verdicts, out-of-distribution
  score and the lung statistics, referencing the four objects above.

UIDs derive from the source and the explanation (direction and model ids), so exporting the same
explanation again replaces the same instances instead of filing copies.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from engine.atomic import atomic_path
from engine.dicom_results.objects import (
    DIFFERENCE,
    TRANSLATED,
    lung_segmentation,
    parametric_map,
    secondary_capture,
)
from engine.dicom_results.report import measurement_report
from engine.dicom_results.source import source_reference
from engine.explain.difference import render_difference, symmetric_limit
from engine.explain.pipeline import ExplanationResult
from engine.types import Radiograph

DICOM_FOLDER = "dicom"
DICOM_FILES = (
    "translated.dcm",
    "difference.dcm",
    "difference_map.dcm",
    "lungs.dcm",
    "report.dcm",
)


def dicom_results(
    result: ExplanationResult, radiograph: Radiograph, *, anonymize: bool = False
) -> dict[str, Dataset]:
    """The result objects of ``result`` by file name (see the module docstring)."""
    # highdicom warns about the style of values the source file holds (a one-part person name):
    # nothing the user can act on, and the objects are written as the source had them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _build(result, radiograph, anonymize)


def _build(
    result: ExplanationResult, radiograph: Radiograph, anonymize: bool
) -> dict[str, Dataset]:
    source = source_reference(radiograph, anonymize=anonymize)
    primary = result.primary
    # The same explanation exported again gets the same UIDs (a PACS replaces, not duplicates);
    # any other content (another request, mask or device) gets new ones.
    content = hashlib.sha256(np.ascontiguousarray(primary.difference).tobytes()).hexdigest()
    tag = f"{primary.direction.value} {result.model_label} {result.probability!r} {content}"
    limit = symmetric_limit(primary.difference)
    caution = result.caution()
    note = "" if caution is None else f" Caution: {caution}."
    translated_pixels = np.rint(np.clip(primary.translated, 0.0, 1.0) * 255.0).astype(np.uint8)
    if anonymize:
        # Outside the lungs the translated image is the original, and a radiograph may carry its
        # patient's name burned into the pixels: a de-identified copy shows the lung field only.
        translated_pixels[~(result.right_lung | result.left_lung)] = 0
    translated = secondary_capture(
        source,
        translated_pixels,
        TRANSLATED,
        f"Counterfactual {primary.direction.value}; model intensity window"
        f"{'; lung field only (de-identified)' if anonymize else ''}.{note}",
        tag,
    )
    difference = secondary_capture(
        source,
        render_difference(primary.difference, limit),
        DIFFERENCE,
        f"Translated minus original: 128 = no change, 0 / 255 = -/+{limit:.4g} intensity "
        f"units.{note}",
        tag,
    )
    difference.WindowCenter, difference.WindowWidth = 128, 256
    difference_map = parametric_map(source, primary.difference, limit, radiograph.info.spacing, tag)
    segmenter = next((w for w in result.model_label.split() if w.startswith("segmenter@")), "")
    lungs = lung_segmentation(source, result.right_lung, result.left_lung, segmenter, tag)
    objects = {
        "translated.dcm": translated,
        "difference.dcm": difference,
        "difference_map.dcm": difference_map,
        "lungs.dcm": lungs,
    }
    objects["report.dcm"] = measurement_report(source, result, list(objects.values()), tag)
    return objects


def write_dicom_results(
    result: ExplanationResult, radiograph: Radiograph, folder: Path, *, anonymize: bool = False
) -> list[Path]:
    """Write the objects into ``folder / "dicom"``; returns the paths written."""
    target = folder / DICOM_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, dataset in dicom_results(result, radiograph, anonymize=anonymize).items():
        path = target / name
        with atomic_path(path) as temporary:
            dataset.save_as(temporary, enforce_file_format=True)
        written.append(path)
    return written
