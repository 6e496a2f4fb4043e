"""Adapts the engine's ``ExplanationResult`` to what the viewer's panes show.

The engine explains in display units ``[0, 1]``; the viewer shows the translated image with the
original's window/level and reads values in modality units, so changes are converted with
``engine.api.modality_change``. Translation happens only inside the lung field, so outside it the
translated image is the original's own pixels.

Everything costly (unit conversion, overlay images, the difference scale) is computed here, on the
worker, so that showing a result on the GUI thread only hands arrays to image items.

``engine_explainer`` is the viewer's engine: the CycleGAN directions and, when the model folder
has a ``figan/`` bundle, the FIGAN features (converted by ``feature_bridge``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from engine import api
from viewer.explanation import (
    Direction,
    Explanation,
    ExplanationChoice,
    Feature,
    FloatImage,
    ShownExplanation,
    StageProgress,
    readonly_image,
)
from viewer.feature_bridge import FeatureExplanation, bridge_exploration
from viewer.overlays import RgbaImage, field_contour, heat_rgba
from viewer.rendering import symmetric_limit

log = logging.getLogger(__name__)

_ENGINE_DIRECTION = {
    Direction.AUTO: api.Direction.AUTO,
    Direction.TO_HEALTHY: api.Direction.TO_HEALTHY,
    Direction.TO_DISEASE: api.Direction.TO_DISEASE,
}
_VIEWER_DIRECTION = {engine: viewer for viewer, engine in _ENGINE_DIRECTION.items()}
FIGAN_FOLDER = "figan"  # the FIGAN bundle's folder inside a model folder
# The classifier pass a feature explanation needs (the original's probability, the lung field and
# the out-of-distribution checks) is the CycleGAN pipeline's; its translation is the least it
# can do: two frames, no attribution maps.
_READING_REQUEST = api.ExplainRequest(n_frames=2, with_attributions=False)
# The share of a feature explanation's progress bar taken by that classifier pass (a few
# seconds, against tens of seconds for the FIGAN inversion).
_READING_SHARE = 0.15


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
class BridgedExplanation(ShownExplanation):
    direction: Direction
    frames: tuple[BridgedFrame, ...]
    valid: bool
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
        BridgedFrame(frame.position, readonly_image(radiograph.pixels + change), frame.probability)
        for frame, change in zip(counterfactual.frames.frames, frame_changes, strict=True)
    )
    return BridgedExplanation(
        translated=readonly_image(radiograph.pixels + difference),
        difference=readonly_image(difference),
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
    segmentation); the words are its warnings with those codes, so the banner says which check
    fired.
    """
    if not result.out_of_distribution:
        return None
    reasons = [
        warning
        for warning in result.warnings
        if api.code_of(warning) in api.OUT_OF_DISTRIBUTION_CODES
    ]
    if reasons:
        return "; ".join(reasons)
    score = "" if result.ood_score is None else f" (score {result.ood_score:.2f})"
    return f"the image is unlike the models' training data{score}"


def _overlays(result: api.ExplanationResult) -> BridgedOverlays:
    contour = field_contour((result.right_lung, result.left_lung), result.keep)
    attributions = result.attributions
    return BridgedOverlays(
        lung_contour=contour,
        gradcam=heat_rgba(attributions.gradcam) if attributions is not None else None,
        gradient=heat_rgba(attributions.gradient) if attributions is not None else None,
    )


class EngineExplainer:
    """The engine behind the viewer (a ``FeatureExplainer``): explains a radiograph in a CycleGAN
    direction, or along a FIGAN feature when ``folder`` has a ``figan/`` bundle.

    Models load once, lazily, on the worker; ``api.ModelError`` (shown as a one-line message) says
    when they are missing or do not fit together. ``inversion_steps``: the FIGAN inversion's
    optimisation steps (None: the engine's default; tests pass a few).
    """

    def __init__(self, folder: Path, *, inversion_steps: int | None = None) -> None:
        self.folder = folder
        self._explore_request = (
            api.ExploreRequest(component=0)
            if inversion_steps is None
            else api.ExploreRequest(component=0, inversion_steps=inversion_steps)
        )
        self._lock = threading.Lock()
        self._model_set: api.ModelSet | None = None
        self._figan: api.FiganModels | None = None
        # The last classifier pass, reused while the same radiograph is explored feature by
        # feature (or after its CycleGAN explanation).
        self._reading: tuple[api.Radiograph, api.ExplanationResult] | None = None

    @property
    def has_figan(self) -> bool:
        return (self.folder / FIGAN_FOLDER).is_dir()

    def __call__(
        self,
        radiograph: api.Radiograph,
        choice: ExplanationChoice,
        cancel: threading.Event,
        progress: StageProgress | None = None,
    ) -> Explanation:
        if isinstance(choice, Feature):
            return self.explore(radiograph, choice, cancel, progress)
        request = api.ExplainRequest(direction=_ENGINE_DIRECTION[choice])
        result = api.explain(radiograph, self._models(), request, cancel=cancel, progress=progress)
        self._reading = (radiograph, result)
        return bridge(radiograph, result)

    def features(self) -> tuple[Feature, ...]:
        """The FIGAN bundle's components; () without one. Loads the FIGAN models, so that a
        bundle made for another classifier is refused here rather than when a feature is chosen."""
        if not self.has_figan:
            return ()
        shares = self._figan_models().pls.explained_label_variance
        return tuple(Feature(index, float(share)) for index, share in enumerate(shares))

    def explore(
        self,
        radiograph: api.Radiograph,
        feature: Feature,
        cancel: threading.Event,
        progress: StageProgress | None = None,
    ) -> FeatureExplanation:
        """``feature`` moved from -2 to +2 SD on ``radiograph`` (the engine's FIGAN slider)."""
        figan = self._figan_models()
        reading = self._read(radiograph, cancel, _scaled(progress, 0.0, _READING_SHARE))
        request = dataclasses.replace(self._explore_request, component=feature.index)
        exploration = api.explore(
            radiograph,
            figan,
            request,
            lung_mask=reading.right_lung | reading.left_lung,
            cancel=cancel,
            progress=_scaled(progress, _READING_SHARE, 1.0),
        )
        return bridge_exploration(
            radiograph,
            exploration,
            probability_original=reading.probability,
            out_of_distribution=_out_of_distribution(reading),
            model_name=f"{self.folder.name} {exploration.model_label}",
        )

    def _read(
        self,
        radiograph: api.Radiograph,
        cancel: threading.Event,
        progress: StageProgress | None = None,
    ) -> api.ExplanationResult:
        if self._reading is not None and self._reading[0] is radiograph:
            return self._reading[1]
        result = api.explain(
            radiograph, self._models(), _READING_REQUEST, cancel=cancel, progress=progress
        )
        self._reading = (radiograph, result)
        return result

    def _models(self) -> api.ModelSet:
        with self._lock:
            if self._model_set is None:
                self._model_set = api.load_model_set(self.folder)
            return self._model_set

    def _figan_models(self) -> api.FiganModels:
        with self._lock:
            if self._figan is None:
                self._figan = api.load_figan_models(self.folder)
                log.info("FIGAN models loaded: %s", self._figan.version_label())
            return self._figan


def _scaled(progress: StageProgress | None, start: float, end: float) -> StageProgress | None:
    """``progress`` for one part of a job: its fractions mapped onto ``[start, end]``."""
    if progress is None:
        return None
    report = progress  # bound here: mypy keeps the narrowing inside the closure

    def scaled(fraction: float, stage: str) -> None:
        report(start + (end - start) * fraction, stage)

    return scaled


def engine_explainer(
    models_dir: str | Path | None = None, *, inversion_steps: int | None = None
) -> EngineExplainer:
    """The engine explainer for ``models_dir`` (default: the shipped models)."""
    folder = Path(models_dir) if models_dir else api.default_models_dir()
    return EngineExplainer(folder, inversion_steps=inversion_steps)
