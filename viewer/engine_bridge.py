"""Adapts the engine's ``ExplanationResult`` to what the viewer's panes show.

The engine explains in display units ``[0, 1]``; the viewer shows the translated image with the
original's window/level and reads values in modality units, so changes are converted with
``engine.api.modality_change``. Translation happens only inside the lung field, so outside it the
translated image is the original's own pixels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import api
from viewer.explanation import Direction, ExplanationProvider, FloatImage

_ENGINE_DIRECTION = {
    Direction.AUTO: api.Direction.AUTO,
    Direction.TO_HEALTHY: api.Direction.TO_HEALTHY,
    Direction.TO_DISEASE: api.Direction.TO_DISEASE,
}
_VIEWER_DIRECTION = {engine: viewer for viewer, engine in _ENGINE_DIRECTION.items()}


@dataclass(frozen=True, slots=True)
class BridgedFrame:
    strength: float
    translated: FloatImage
    probability: float


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
    result: api.ExplanationResult  # the full engine result (statistics, attributions, lungs)


def bridge(radiograph: api.Radiograph, result: api.ExplanationResult) -> BridgedExplanation:
    """Express the primary counterfactual of ``result`` in ``radiograph``'s modality units."""
    counterfactual = result.primary
    difference = api.modality_change(radiograph, counterfactual.difference)
    frames = tuple(
        BridgedFrame(
            frame.position,
            _readonly(radiograph.pixels + api.modality_change(radiograph, frame.difference)),
            frame.probability,
        )
        for frame in counterfactual.frames.frames
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
        result=result,
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
