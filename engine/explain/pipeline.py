"""One call from a loaded radiograph to a complete, immutable explanation.

Steps (the paper's method, plus the checks it lacks): the model-intensity image
(:mod:`engine.inference.model_input`) -> lung segmentation -> classifier probability on the
lung-field input -> CycleGAN translation toward the other class (lung field only, composited back
onto the full-resolution image, except on the *keep mask*: foreign objects found by the device
segmenter, which are not disease and must not change) -> verdicts on the composite -> signed
difference, lung statistics, slider frames with a probability each, and attributions (Grad-CAM,
input gradient).

Verdicts (docs/method.md, "valid, faithful explanation"): a counterfactual *qualifies* when the
original sits on the source side of the threshold; it is *valid* when it qualifies and the
composite the user sees, classified again through the same model-input path, crosses the
threshold. The independent oracle classifier (never used to train the generators) gives a second
verdict; the classifier's verdict on the generator's own model-resolution output is kept as an
extra, labelled number only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import CancelledError, InputError
from engine.explain.attribution import Attributions, attributions
from engine.explain.difference import grid_sample, signed_difference, symmetric_limit
from engine.explain.edit_field import EditField, keep_mask_of
from engine.explain.frames import (
    BlendedImages,
    Frame,
    FrameSequence,
    is_monotonic,
    strength_positions,
)
from engine.explain.request import Direction, ExplainRequest
from engine.explain.resolution import SourceResolution
from engine.explain.statistics import LungStatistics, lung_statistics
from engine.explain.warning_codes import EngineWarning, WarningCode
from engine.inference.model_input import model_intensity
from engine.inference.model_set import ModelSet
from engine.inference.ood import classify_with_features
from engine.inference.run import (
    classify,
    classify_model_inputs,
    field_inputs,
    model_size,
    segment_lungs_checked,
    split_at_midline,
    translate,
)
from engine.models import LoadedModel
from engine.types import FloatImage, Radiograph, readonly

ProgressCallback = Callable[[float, str], None]
POSITIVE_LABEL = "pneumoconiosis"
#: Above this segmentation uncertainty the input counts as out of distribution (held-out
#: phantoms: 0.02-0.03; CT, MR, ultrasound, noise: 0.36-1.27).
MAX_SEGMENTATION_UNCERTAINTY = 0.15


@dataclass(frozen=True, slots=True, eq=False)
class Counterfactual:
    """One translation. Images ``(H, W)`` float32 intensity units on the original grid.

    ``probability``: P(pneumoconiosis) of the composite ``translated`` (what the user sees),
    classified through the model-input path. ``qualifies``: the original was on the source side
    of the threshold (a counterfactual toward the class the image is already in is no flip).
    ``valid``: qualifies and ``probability`` crossed the threshold toward the target class.
    ``oracle_probability`` / ``oracle_valid``: the same for the independent oracle classifier
    (None without one; ``oracle_valid`` is None too when the oracle puts the original on the
    target side already). ``model_resolution_probability``: the classifier on the generator's own
    output at model resolution (None when the sizes differ); shown as an extra, not a verdict.
    """

    direction: Direction
    translated: FloatImage
    difference: FloatImage  # translated - original; > 0 brighter
    probability: float
    qualifies: bool
    valid: bool
    statistics: LungStatistics
    frames: FrameSequence
    oracle_probability: float | None = None
    oracle_valid: bool | None = None
    model_resolution_probability: float | None = None

    @property
    def verdict(self) -> str:
        """One word for reports: ``valid``, ``invalid`` or ``not-qualifying``."""
        if not self.qualifies:
            return "not-qualifying"
        return "valid" if self.valid else "invalid"


@dataclass(frozen=True, slots=True, eq=False)
class ExplanationResult:
    """Everything the viewer, CLI and batch jobs show for one radiograph.

    ``original``: the model-intensity image (``engine.inference.model_input.model_intensity``),
    ``[0, 1]``, which every image of the result (translated, difference, frames) shares.
    """

    request_id: int
    model_label: str
    original: FloatImage
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
    oracle_probability: float | None = None  # the oracle's P(pneumoconiosis) of the original
    # Bool (H, W): pixels every counterfactual leaves unchanged (devices), or None (no device
    # segmenter and no keep mask given).
    keep: np.ndarray | None = None
    # The image's longer side against the classifier's input (None: results made before it).
    resolution: SourceResolution | None = None

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
    def kept_share(self) -> float | None:
        """The share of the lung field every counterfactual left unchanged (the keep mask:
        devices), or None without a keep mask or without a lung field."""
        lung = self.right_lung | self.left_lung
        if self.keep is None or not lung.any():
            return None
        return float((self.keep & lung).sum()) / float(lung.sum())

    @property
    def primary(self) -> Counterfactual:
        return self.counterfactuals[0]

    @property
    def predicted_label(self) -> str:
        return "healthy" if self._healthy_verdict else POSITIVE_LABEL

    @property
    def _healthy_verdict(self) -> bool:
        return healthy_verdict(self.probability, self.threshold)

    @property
    def trustworthy(self) -> bool:
        """Nothing to warn about: no reason for a :meth:`caution`."""
        return self.caution() is None

    def caution(self) -> str | None:
        """A one-line warning that must travel with every export of this explanation, or None.

        Names each reason: out of distribution, a low-resolution image (with what that does to
        this verdict), an invalid or non-qualifying counterfactual, a non-monotonic slider.
        """
        reasons = []
        if self.out_of_distribution:
            checks = []
            if self.ood_score is not None and self.ood_score > 1.0:
                checks.append(f"feature score {self.ood_score:.2f}")
            uncertainty = self.segmentation_uncertainty
            if uncertainty is not None and uncertainty > MAX_SEGMENTATION_UNCERTAINTY:
                checks.append(f"uncertain lung segmentation {uncertainty:.2f}")
            reasons.append(f"OUT OF DISTRIBUTION ({', '.join(checks)})")
        if self.resolution is not None and self.resolution.low:
            reasons.append(self.resolution.caution(self._healthy_verdict))
        for counterfactual in self.counterfactuals:
            name = counterfactual.direction.value
            if not counterfactual.qualifies:
                reasons.append(f"{name}: NOT A COUNTERFACTUAL (already that class)")
            elif not counterfactual.valid:
                reasons.append(f"{name}: INVALID (did not cross the threshold)")
            if not counterfactual.frames.monotonic:
                reasons.append(f"{name}: NON-MONOTONIC slider")
        return "; ".join(reasons) if reasons else None


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
    lung_mask: np.ndarray | None = None,
    keep_mask: np.ndarray | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> ExplanationResult:
    """Explain the classifier's decision on ``radiograph`` (synchronous; see module docstring).

    ``lung_mask``: ``(H, W)`` bool lung field to use instead of the segmenter's (an annotation,
    or a phantom's ground truth); split into right and left lung at the image midline.
    ``keep_mask``: ``(H, W)`` bool pixels the counterfactuals must leave unchanged, instead of
    the device segmenter's (an annotation, or a phantom's devices).
    """
    request = request or ExplainRequest()
    clock = _Clock(cancel, progress)
    warnings: list[str] = []  # EngineWarning values
    original = model_intensity(radiograph)
    clock.stage("display", 0.05)
    segmentation_uncertainty: float | None = None
    if lung_mask is not None:
        if lung_mask.shape != original.shape:
            raise InputError(
                f"lung mask shape {lung_mask.shape} is not the image's {original.shape}"
            )
        right, left = split_at_midline(np.asarray(lung_mask, dtype=bool))
    elif models.segmenter is not None:
        right, left, segmentation_uncertainty = segment_lungs_checked(models.segmenter, original)
        if segmentation_uncertainty > MAX_SEGMENTATION_UNCERTAINTY:
            warnings.append(
                EngineWarning(
                    WarningCode.UNCERTAIN_SEGMENTATION,
                    f"uncertain lung segmentation ({segmentation_uncertainty:.2f} > "
                    f"{MAX_SEGMENTATION_UNCERTAINTY}): the image is unlike the training data; "
                    "do not trust this explanation",
                )
            )
    else:
        right, left = np.ones(original.shape, bool), np.ones(original.shape, bool)
        warnings.append(
            EngineWarning(
                WarningCode.NO_SEGMENTER,
                "no lung segmenter: the whole image is treated as lung field",
            )
        )
    lung = right | left
    keep = keep_mask_of(models, original, keep_mask)
    if lung.mean() < 0.02:
        warnings.append(
            EngineWarning(
                WarningCode.LITTLE_LUNG_FIELD,
                "almost no lung field found: is this a frontal chest radiograph?",
            )
        )
    clock.stage("segment", 0.25)
    probability, ood_score = _classify_and_score(models, original, lung)
    oracle_probability = (
        None if models.oracle is None else float(classify(models.oracle, [original], lung)[0])
    )
    if ood_score is not None and ood_score > 1.0:
        warnings.append(
            EngineWarning(
                WarningCode.OUT_OF_DISTRIBUTION,
                f"out of distribution (score {ood_score:.2f} > 1): the image is unlike the "
                "models' training data; do not trust this explanation",
            )
        )
    resolution = SourceResolution(max(original.shape), model_size(models.classifier))
    if resolution.low:
        warnings.append(resolution.warning(healthy_verdict(probability, request.threshold)))
    clock.stage("classify", 0.35)
    directions = _directions(request.direction, probability, request.threshold)
    counterfactuals = []
    for index, direction in enumerate(directions):
        counterfactuals.append(
            _counterfactual(
                original,
                EditField(right, left, keep),
                models,
                direction,
                request,
                _Sides(probability, oracle_probability),
            )
        )
        clock.stage(f"translate {direction.value}", 0.35 + 0.45 * (index + 1) / len(directions))
    found = attributions(models.classifier, original, lung) if request.with_attributions else None
    clock.stage("attributions", 1.0)
    for counterfactual in counterfactuals:
        warnings.extend(_verdict_warnings(counterfactual, request.threshold))
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
        oracle_probability=oracle_probability,
        keep=None if keep is None else readonly(keep),
        resolution=resolution,
    )


def healthy_verdict(probability: float, threshold: float) -> bool:
    """The classifier calls the image healthy: P(pneumoconiosis) below the threshold."""
    return probability < threshold


def _verdict_warnings(counterfactual: Counterfactual, threshold: float) -> list[EngineWarning]:
    name = counterfactual.direction.value
    if not counterfactual.qualifies:
        target = POSITIVE_LABEL if counterfactual.direction is Direction.TO_DISEASE else "healthy"
        return [
            EngineWarning(
                WarningCode.NOT_A_COUNTERFACTUAL,
                f"not a counterfactual ({name}): the classifier already calls the original "
                f"{target}",
            )
        ]
    found = []
    if not counterfactual.valid:
        found.append(
            EngineWarning(
                WarningCode.INVALID_COUNTERFACTUAL,
                f"invalid counterfactual ({name}): the translated image as shown did not cross "
                f"the classifier's threshold ({counterfactual.probability:.2f} against "
                f"{threshold:g})",
            )
        )
    if counterfactual.oracle_valid is False:
        found.append(
            EngineWarning(
                WarningCode.ORACLE_DISAGREES,
                f"the independent oracle classifier does not confirm the flip ({name}: "
                f"P = {counterfactual.oracle_probability:.2f})",
            )
        )
    return found


def _classify_and_score(
    models: ModelSet, intensity: FloatImage, lung: np.ndarray
) -> tuple[float, float | None]:
    """The classifier's probability and, when the models have a feature density, the OOD score
    from the same forward pass."""
    if models.feature_density is None:
        return float(classify(models.classifier, [intensity], lung)[0]), None
    probability, features = classify_with_features(models.classifier, intensity, lung)
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


@dataclass(frozen=True, slots=True)
class _Sides:
    """The original's probabilities: the classifier's and the oracle's (None without one)."""

    classifier: float
    oracle: float | None


def frame_probabilities(
    model: LoadedModel, images: BlendedImages, lung: np.ndarray, positions: tuple[float, ...]
) -> np.ndarray:
    """The classifier's probability of each full-resolution frame, through the model-input path.

    Frames between the original and the counterfactual are convex blends of two images in
    ``[0, 1]``: no clipping, and letterboxing, lung masking and resampling are linear, so their
    model inputs are the same blend of the two ends' inputs (exact up to float rounding).
    Exaggerated frames (beyond 1) are clipped to ``[0, 1]`` and are rendered in full.
    """
    ends = field_inputs(model, [images.original, images.translated], lung)
    start, stop = ends[0].field, ends[1].field
    inputs = []
    for position in positions:
        if 0.0 <= position <= 1.0:
            inputs.append((start + np.float32(position) * (stop - start)).astype(np.float32))
        else:
            (prepared,) = field_inputs(model, [images.image(position)], lung)
            inputs.append(prepared.field)
    return classify_model_inputs(model, inputs)


def crossed(probability: float, threshold: float, direction: Direction) -> bool:
    """``probability`` lies on the target side of ``threshold`` for a change toward
    ``direction`` (at or above it toward disease, below it toward healthy)."""
    return (probability >= threshold) == (direction is Direction.TO_DISEASE)


def _counterfactual(
    original: FloatImage,
    field: EditField,
    models: ModelSet,
    direction: Direction,
    request: ExplainRequest,
    sides: _Sides,
) -> Counterfactual:
    lung = field.lung
    generator = models.to_healthy if direction is Direction.TO_HEALTHY else models.to_disease
    translation = translate(generator, original, lung, keep=field.keep)
    change = translation.change
    translated = np.clip(original + np.where(field.editable, change, np.float32(0.0)), 0.0, 1.0)
    translated = translated.astype(np.float32)
    positions = strength_positions(request.n_frames, request.exaggerate)
    # Positions beyond 1 extrapolate the same change (exaggerated), clipped to [0, 1].
    # Frame images are rendered on demand (engine.explain.frames); the probabilities are not.
    images = BlendedImages(original, translated)
    probabilities = frame_probabilities(models.classifier, images, lung, positions)
    at_counterfactual = int(np.argmin([abs(s - 1.0) for s in positions]))
    translated_probability = float(probabilities[at_counterfactual])
    model_resolution = None
    if model_size(models.classifier) == translation.model_input.shape[0]:
        blend = translation.model_blend(1.0)
        model_resolution = float(classify_model_inputs(models.classifier, [blend])[0])
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
    threshold = request.threshold
    qualifies = not crossed(sides.classifier, threshold, direction)
    valid = qualifies and crossed(translated_probability, threshold, direction)
    oracle_probability: float | None = None
    oracle_valid: bool | None = None
    if models.oracle is not None and sides.oracle is not None:
        oracle_probability = float(classify(models.oracle, [translated], lung)[0])
        if not crossed(sides.oracle, threshold, direction):
            oracle_valid = crossed(oracle_probability, threshold, direction)
    difference = signed_difference(original, translated)
    return Counterfactual(
        direction=direction,
        translated=readonly(translated),
        difference=readonly(difference),
        probability=translated_probability,
        qualifies=qualifies,
        valid=valid,
        statistics=lung_statistics(original, translated, field.right, field.left),
        frames=frames,
        oracle_probability=oracle_probability,
        oracle_valid=oracle_valid,
        model_resolution_probability=model_resolution,
    )
