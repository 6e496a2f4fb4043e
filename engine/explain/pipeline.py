"""One call from a loaded radiograph to a complete, immutable explanation.

Steps (the paper's method, plus the checks it lacks): display image -> lung segmentation ->
classifier probability on the lung-field image -> CycleGAN translation toward the other class
(lung field only, composited back onto the full radiograph) -> the translated image's probability
and a validity verdict (did it cross the threshold?) -> signed difference, lung statistics, slider
frames with a probability each, and attributions (Grad-CAM, input gradient) for comparison.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import CancelledError
from engine.explain.attribution import Attributions, attributions
from engine.explain.difference import grid_sample, signed_difference, symmetric_limit
from engine.explain.frames import (
    BlendedImages,
    Frame,
    FrameSequence,
    is_monotonic,
    strength_positions,
)
from engine.explain.request import Direction, ExplainRequest
from engine.explain.statistics import LungStatistics, lung_statistics
from engine.inference.model_set import ModelSet
from engine.inference.ood import classify_with_features
from engine.inference.run import (
    classify,
    classify_model_inputs,
    model_size,
    segment_lungs_checked,
    translate,
)
from engine.types import FloatImage, Radiograph, readonly

ProgressCallback = Callable[[float, str], None]
POSITIVE_LABEL = "pneumoconiosis"
#: Above this segmentation uncertainty the input counts as out of distribution (held-out
#: phantoms: 0.02-0.03; CT, MR, ultrasound, noise: 0.36-1.27).
MAX_SEGMENTATION_UNCERTAINTY = 0.15


@dataclass(frozen=True, slots=True, eq=False)
class Counterfactual:
    """One translation. Images ``(H, W)`` float32 display units on the original grid."""

    direction: Direction
    translated: FloatImage
    difference: FloatImage  # translated - original; > 0 brighter
    probability: float  # P(pneumoconiosis) of the translated image
    valid: bool  # the prediction crossed the threshold toward the target class
    statistics: LungStatistics
    frames: FrameSequence


@dataclass(frozen=True, slots=True, eq=False)
class ExplanationResult:
    """Everything the viewer, CLI and batch jobs show for one radiograph."""

    request_id: int
    model_label: str
    original: FloatImage  # display image (default VOI, polarity applied), [0, 1]
    right_lung: np.ndarray  # bool (H, W); the patient's right = image left
    left_lung: np.ndarray
    probability: float  # P(pneumoconiosis) of the original
    threshold: float
    counterfactuals: tuple[Counterfactual, ...]
    attributions: Attributions | None
    timings: tuple[tuple[str, float], ...]
    warnings: tuple[str, ...]
    # Classifier-feature distance from the training data / the largest training distance
    # (engine.inference.ood); > 1: outside the training data. None: the models have no density.
    ood_score: float | None = None
    # Uncertain segmenter pixels per lung pixel (engine.inference.run); None without segmenter.
    segmentation_uncertainty: float | None = None

    @property
    def out_of_distribution(self) -> bool:
        """Either check says the image is unlike the training data."""
        far = self.ood_score is not None and self.ood_score > 1.0
        uncertain = (
            self.segmentation_uncertainty is not None
            and self.segmentation_uncertainty > MAX_SEGMENTATION_UNCERTAINTY
        )
        return far or uncertain

    @property
    def primary(self) -> Counterfactual:
        return self.counterfactuals[0]

    @property
    def predicted_label(self) -> str:
        return POSITIVE_LABEL if self.probability >= self.threshold else "healthy"


class _Clock:
    """Stage timings plus the cancellation and progress checks between stages."""

    def __init__(self, cancel: threading.Event | None, progress: ProgressCallback | None) -> None:
        self._cancel, self._progress = cancel, progress
        self._start = time.perf_counter()
        self.timings: list[tuple[str, float]] = []

    def stage(self, name: str, fraction: float) -> None:
        now = time.perf_counter()
        self.timings.append((name, now - self._start))
        self._start = now
        if self._cancel is not None and self._cancel.is_set():
            raise CancelledError("explanation cancelled")
        if self._progress is not None:
            self._progress(fraction, name)


def explain(
    radiograph: Radiograph,
    models: ModelSet,
    request: ExplainRequest | None = None,
    *,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> ExplanationResult:
    """Explain the classifier's decision on ``radiograph`` (synchronous; see module docstring)."""
    request = request or ExplainRequest()
    clock = _Clock(cancel, progress)
    warnings: list[str] = []
    original = radiograph.display()
    clock.stage("display", 0.05)
    segmentation_uncertainty: float | None = None
    if models.segmenter is not None:
        right, left, segmentation_uncertainty = segment_lungs_checked(models.segmenter, original)
        if segmentation_uncertainty > MAX_SEGMENTATION_UNCERTAINTY:
            warnings.append(
                f"uncertain lung segmentation ({segmentation_uncertainty:.2f} > "
                f"{MAX_SEGMENTATION_UNCERTAINTY}): the image is unlike the training data; do not "
                "trust this explanation"
            )
    else:
        right, left = np.ones(original.shape, bool), np.ones(original.shape, bool)
        warnings.append("no lung segmenter: the whole image is treated as lung field")
    lung = right | left
    if lung.mean() < 0.02:
        warnings.append("almost no lung field found: is this a frontal chest radiograph?")
    clock.stage("segment", 0.25)
    lung_field = _lung_field(original, lung)
    probability, ood_score = _classify_and_score(models, lung_field)
    if ood_score is not None and ood_score > 1.0:
        warnings.append(
            f"out of distribution (score {ood_score:.2f} > 1): the image is unlike the models' "
            "training data; do not trust this explanation"
        )
    clock.stage("classify", 0.35)
    directions = _directions(request.direction, probability, request.threshold)
    counterfactuals = []
    for index, direction in enumerate(directions):
        counterfactuals.append(
            _counterfactual(original, lung_field, right, left, models, direction, request)
        )
        clock.stage(f"translate {direction.value}", 0.35 + 0.45 * (index + 1) / len(directions))
    found = attributions(models.classifier, lung_field) if request.with_attributions else None
    clock.stage("attributions", 1.0)
    for counterfactual in counterfactuals:
        if not counterfactual.valid:
            warnings.append(
                f"invalid counterfactual ({counterfactual.direction.value}): the translated image "
                "did not cross the classifier's threshold"
            )
        warnings.extend(counterfactual.frames.warnings)
    return ExplanationResult(
        request_id=request.request_id,
        model_label=models.version_label(),
        original=readonly(original),
        right_lung=readonly(right),
        left_lung=readonly(left),
        probability=probability,
        threshold=request.threshold,
        counterfactuals=tuple(counterfactuals),
        attributions=found,
        timings=tuple(clock.timings),
        warnings=tuple(warnings),
        ood_score=ood_score,
        segmentation_uncertainty=segmentation_uncertainty,
    )


def _classify_and_score(models: ModelSet, lung_field: FloatImage) -> tuple[float, float | None]:
    """The classifier's probability and, when the models have a feature density, the OOD score
    from the same forward pass."""
    if models.feature_density is None:
        return float(classify(models.classifier, [lung_field])[0]), None
    probability, features = classify_with_features(models.classifier, lung_field)
    return probability, float(models.feature_density.scores(features)[0])


def pooled_limit(images: BlendedImages, positions: tuple[float, ...]) -> float:
    """``symmetric_limit`` over every frame's difference, computed on its sampling grid only.

    The percentile pools the grid samples of all frames; blending is per pixel, so blending the
    sampled original and translation gives exactly those samples without rendering a single
    full-resolution frame.
    """
    sampled = BlendedImages(grid_sample(images.original), grid_sample(images.translated))
    return symmetric_limit(*(sampled.difference(s) for s in positions))


def _directions(requested: Direction, probability: float, threshold: float) -> list[Direction]:
    if requested is Direction.BOTH:
        return [Direction.TO_HEALTHY, Direction.TO_DISEASE]
    if requested is Direction.AUTO:
        return [Direction.TO_HEALTHY if probability >= threshold else Direction.TO_DISEASE]
    return [requested]


def _lung_field(image: FloatImage, lung: np.ndarray) -> FloatImage:
    """The paper's lung-field image: outside the lungs set to background (black)."""
    return np.where(lung, image, np.float32(0.0)).astype(np.float32)


def _counterfactual(
    original: FloatImage,
    lung_field: FloatImage,
    right: np.ndarray,
    left: np.ndarray,
    models: ModelSet,
    direction: Direction,
    request: ExplainRequest,
) -> Counterfactual:
    lung = right | left
    generator = models.to_healthy if direction is Direction.TO_HEALTHY else models.to_disease
    translation = translate(generator, lung_field, lung)
    change = translation.change
    translated = np.clip(original + np.where(lung, change, np.float32(0.0)), 0.0, 1.0)
    translated = translated.astype(np.float32)
    positions = strength_positions(request.n_frames, request.exaggerate)
    # Positions beyond 1 extrapolate the same change (exaggerated), clipped to display range.
    # Frame images are rendered on demand (engine.explain.frames); the probabilities are not.
    images = BlendedImages(original, translated)
    if model_size(models.classifier) == translation.model_input.shape[0]:
        # Each frame's probability is the classifier's verdict on the model-resolution image
        # the generator made (blended): what the classifier reads. Resampling the change to
        # the full-resolution grid and back low-passes it, which loses fine changes (removed
        # small opacities) that the classifier does see.
        probabilities = classify_model_inputs(
            models.classifier, [translation.model_blend(s) for s in positions]
        )
    else:
        probabilities = classify(
            models.classifier, [_lung_field(images.image(s), lung) for s in positions]
        )
    at_counterfactual = int(np.argmin([abs(s - 1.0) for s in positions]))
    translated_probability = float(probabilities[at_counterfactual])
    sequence_probabilities = tuple(float(p) for p in probabilities)
    monotonic = is_monotonic(sequence_probabilities)
    frames = FrameSequence(
        axis="strength",
        frames=tuple(
            Frame(s, float(p), images) for s, p in zip(positions, probabilities, strict=True)
        ),
        difference_limit=pooled_limit(images, positions),
        label=POSITIVE_LABEL,
        monotonic=monotonic,
        warnings=()
        if monotonic
        else (
            f"the classifier's probability does not change monotonically along the "
            f"{direction.value} slider",
        ),
    )
    target_is_disease = direction is Direction.TO_DISEASE
    valid = (translated_probability >= request.threshold) == target_is_disease
    difference = signed_difference(original, translated)
    return Counterfactual(
        direction=direction,
        translated=readonly(translated),
        difference=readonly(difference),
        probability=translated_probability,
        valid=valid,
        statistics=lung_statistics(original, translated, right, left),
        frames=frames,
    )
