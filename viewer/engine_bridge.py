"""Adapts the engine's ``ExplanationResult`` to what the viewer's panes show.

The engine explains in display units ``[0, 1]``; the viewer shows the translated image with the
original's window/level and reads values in modality units, so changes are converted with
``engine.api.modality_change``. Translation happens only inside the lung field, so outside it the
translated image is the original's own pixels.

Everything costly (unit conversion, overlay images, the difference scale) is computed here, on the
worker, so that showing a result on the GUI thread only hands arrays to image items.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import api
from viewer.explanation import Direction, ExplanationProvider, FloatImage
from viewer.overlays import RgbaImage, contour_rgba, heat_rgba
from viewer.rendering import symmetric_limit

_ENGINE_DIRECTION = {
    Direction.AUTO: api.Direction.AUTO,
    Direction.TO_HEALTHY: api.Direction.TO_HEALTHY,
    Direction.TO_DISEASE: api.Direction.TO_DISEASE,
}
_VIEWER_DIRECTION = {engine: viewer for viewer, engine in _ENGINE_DIRECTION.items()}
# The engine's warnings that explain an out-of-distribution verdict start with these words.
_OOD_MARKERS = ("out of distribution", "out-of-distribution", "uncertain lung segmentation")


@dataclass(frozen=True, slots=True)
class BridgedFrame:
    strength: float
    translated: FloatImage
    probability: float


@dataclass(frozen=True, slots=True)
class BridgedOverlays:
    """RGBA overlays on the original grid; None where the engine gave nothing to draw."""

    lung_contour: RgbaImage | None
    gradcam: RgbaImage | None
    gradient: RgbaImage | None


@dataclass(frozen=True, slots=True)
class BridgedExplanation:
    translated: FloatImage
    difference: FloatImage
    probability_original: float
    probability_translated: float
    positive_label: str
    direction: Direction
    model_name: str
    frames: tuple[BridgedFrame, ...]
    warnings: tuple[str, ...]
    valid: bool
    out_of_distribution: str | None
    difference_limit: float  # symmetric scale over every frame, in modality units
    overlays: BridgedOverlays
    result: api.ExplanationResult  # the full engine result (statistics, attributions, lungs)


def bridge(radiograph: api.Radiograph, result: api.ExplanationResult) -> BridgedExplanation:
    """Express the primary counterfactual of ``result`` in ``radiograph``'s modality units."""
    counterfactual = result.primary
    difference = api.modality_change(radiograph, counterfactual.difference)
    frame_changes = [
        api.modality_change(radiograph, frame.difference) for frame in counterfactual.frames.frames
    ]
    frames = tuple(
        BridgedFrame(frame.position, _readonly(radiograph.pixels + change), frame.probability)
        for frame, change in zip(counterfactual.frames.frames, frame_changes, strict=True)
    )
    return BridgedExplanation(
        translated=_readonly(radiograph.pixels + difference),
        difference=_readonly(difference),
        probability_original=result.probability,
        probability_translated=counterfactual.probability,
        positive_label=counterfactual.frames.label,
        direction=_VIEWER_DIRECTION[counterfactual.direction],
        model_name=result.model_label,
        frames=frames,
        warnings=result.warnings,
        valid=counterfactual.valid,
        out_of_distribution=_out_of_distribution(result),
        difference_limit=symmetric_limit([difference, *frame_changes]),
        overlays=_overlays(result),
        result=result,
    )


def _out_of_distribution(result: api.ExplanationResult) -> str | None:
    """The banner's out-of-distribution message, or None when the input looks familiar.

    The verdict is the engine's ``out_of_distribution`` flag (feature-density score or uncertain
    segmentation); the words are its matching warnings, so the banner says which check fired.
    """
    if not result.out_of_distribution:
        return None
    reasons = [
        warning
        for warning in result.warnings
        if any(marker in warning.lower() for marker in _OOD_MARKERS)
    ]
    if reasons:
        return "; ".join(reasons)
    score = "" if result.ood_score is None else f" (score {result.ood_score:.2f})"
    return f"the image is unlike the models' training data{score}"


def _overlays(result: api.ExplanationResult) -> BridgedOverlays:
    lung = result.right_lung | result.left_lung
    # A lung field covering the whole image (no segmenter) has no contour worth drawing.
    contour = contour_rgba((result.right_lung, result.left_lung)) if not lung.all() else None
    attributions = result.attributions
    return BridgedOverlays(
        lung_contour=contour,
        gradcam=heat_rgba(attributions.gradcam) if attributions is not None else None,
        gradient=heat_rgba(attributions.gradient) if attributions is not None else None,
    )


def _readonly(array: np.ndarray) -> FloatImage:
    out = np.asarray(array, dtype=np.float32)
    out.setflags(write=False)
    return out


def engine_explainer(models_dir: str | Path | None = None) -> ExplanationProvider:
    """A provider that loads the model set once (lazily, on the worker) and explains with it.

    Raises ``api.ModelError`` (shown as a one-line message) when the models are missing.
    """
    folder = Path(models_dir) if models_dir else api.default_models_dir()
    loaded: list[api.ModelSet] = []
    lock = threading.Lock()

    def provide(
        radiograph: api.Radiograph, direction: Direction, cancel: threading.Event
    ) -> BridgedExplanation:
        with lock:
            if not loaded:
                loaded.append(api.load_model_set(folder))
        request = api.ExplainRequest(direction=_ENGINE_DIRECTION[direction])
        return bridge(radiograph, api.explain(radiograph, loaded[0], request, cancel=cancel))

    return provide
