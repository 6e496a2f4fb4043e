"""What the viewer needs from an explanation, as structural protocols.

The explanation engine will return a frozen result; any object with these attributes plugs in
without conversion (the tests use a small fake). Arrays follow the engine's conventions: row-major
``(H, W)`` float32 on the original image's grid, read-only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from engine.api import ExplanationResult, Radiograph, WarningCode, code_of

FloatImage = npt.NDArray[np.float32]


def readonly_image(array: npt.ArrayLike) -> FloatImage:
    """``array`` as a read-only float32 image (what every pane and explanation holds)."""
    out = np.asarray(array, dtype=np.float32)
    out.setflags(write=False)
    return out


class Direction(StrEnum):
    """Which way the CycleGAN translates the image."""

    AUTO = "auto"  # away from the class the classifier predicts
    TO_HEALTHY = "to_healthy"
    TO_DISEASE = "to_disease"

    @property
    def label(self) -> str:
        return _DIRECTION_TITLES[self]


_DIRECTION_TITLES = {
    Direction.AUTO: "Auto (away from prediction)",
    Direction.TO_HEALTHY: "To healthy",
    Direction.TO_DISEASE: "To disease",
}


@dataclass(frozen=True, slots=True)
class Feature:
    """A FIGAN feature: PLS component ``index`` (0-based) of the classifier's feature layer,
    which explains ``label_variance`` (a share in ``[0, 1]``) of the label's variance."""

    index: int
    label_variance: float

    @property
    def name(self) -> str:
        return f"Feature {self.index + 1}"

    @property
    def label(self) -> str:
        percent = 100.0 * self.label_variance
        # Whole percent reads best; a minor component would show as "0 %" or "1 %" that way.
        share = f"{percent:.0f}" if percent >= 10.0 else f"{percent:.1f}"
        return f"{self.name} ({share} % of label variance)"


# What an explanation explains: a CycleGAN translation, or one FIGAN feature moved along its axis.
ExplanationChoice = Direction | Feature


class ExplanationFrame(Protocol):
    """One step of the slider."""

    @property
    def strength(self) -> float:
        """The slider position: translation strength in ``[0, 1]`` for a direction (0 = original,
        1 = full translation), the feature's score in SD units for a feature."""
        ...

    @property
    def translated(self) -> FloatImage:
        """``(H, W)`` float32 modality values of the image at this strength."""
        ...

    @property
    def probability(self) -> float:
        """Classifier probability of ``positive_label`` for this frame, in ``[0, 1]``."""
        ...


class Explanation(Protocol):
    """A finished explanation of one radiograph in one direction."""

    @property
    def translated(self) -> FloatImage:
        """``(H, W)`` float32 modality values of the fully translated image."""
        ...

    @property
    def difference(self) -> FloatImage:
        """``(H, W)`` float32 signed, ``translated - original`` in modality units."""
        ...

    @property
    def probability_original(self) -> float: ...

    @property
    def probability_translated(self) -> float: ...

    @property
    def positive_label(self) -> str:
        """The class the probabilities refer to (e.g. ``"pneumoconiosis"``)."""
        ...

    @property
    def direction(self) -> ExplanationChoice:
        """The CycleGAN direction, or the FIGAN feature, that was explained."""
        ...

    @property
    def model_name(self) -> str: ...

    @property
    def frames(self) -> Sequence[ExplanationFrame]:
        """Slider frames in order of increasing strength (feature score); may be empty."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]:
        """One-line notes for the banner ("invalid counterfactual", "out of distribution")."""
        ...


@dataclass(frozen=True, slots=True)
class ShownExplanation:
    """The fields every bridged explanation fills (CycleGAN or FIGAN feature), in the
    radiograph's modality units; the bridges add their direction, frames and overlays."""

    translated: FloatImage
    difference: FloatImage
    probability_original: float
    probability_translated: float
    positive_label: str
    model_name: str
    warnings: tuple[str, ...]
    out_of_distribution: str | None  # the banner's message, or None for a familiar input
    difference_limit: float  # symmetric scale over every frame, in modality units


def engine_result(explanation: Explanation | None) -> ExplanationResult | None:
    """The engine's full result behind ``explanation`` (statistics, masks, attributions), or
    None for explanations that carry none (test fakes, future providers)."""
    result = getattr(explanation, "result", None)
    return result if isinstance(result, ExplanationResult) else None


class AlertKind(StrEnum):
    """How loudly a note about an explanation is shown (the banner's colour)."""

    INVALID = "invalid"  # the counterfactual did not cross the threshold: not an explanation
    OUT_OF_DISTRIBUTION = "ood"  # the input is unlike the training data: nothing is reliable
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    text: str


def explanation_alerts(explanation: Explanation) -> tuple[Alert, ...]:
    """The banner's lines for ``explanation``, most serious first.

    Besides ``warnings`` an explanation may carry two optional attributes, read when present:
    ``valid`` (False = the prediction did not cross the threshold) and ``out_of_distribution``
    (a one-line message, or None). The engine's own invalid-counterfactual warning (by its code)
    is folded into the structured alert so it is not shown twice.
    """
    alerts: list[Alert] = []
    valid = getattr(explanation, "valid", None)
    if valid is False:
        label = explanation.positive_label
        alerts.append(
            Alert(
                AlertKind.INVALID,
                f"Invalid counterfactual: P({label}) {explanation.probability_original:.2f} → "
                f"{explanation.probability_translated:.2f} did not cross the classifier's "
                "threshold. The difference does not explain the decision.",
            )
        )
    message = getattr(explanation, "out_of_distribution", None)
    out_of_distribution = message if isinstance(message, str) and message else None
    if out_of_distribution is not None:
        alerts.append(Alert(AlertKind.OUT_OF_DISTRIBUTION, out_of_distribution))
    for warning in explanation.warnings:
        if valid is False and code_of(warning) is WarningCode.INVALID_COUNTERFACTUAL:
            continue
        if out_of_distribution is not None and warning in out_of_distribution:
            continue  # already in the out-of-distribution alert
        alerts.append(Alert(AlertKind.NOTE, warning))
    return tuple(alerts)


# The engine's progress callback: (fraction done in [0, 1], name of the stage just finished).
StageProgress = Callable[[float, str], None]

# The engine call the viewer runs on its worker: synchronous, cancellable through the event,
# reporting its stages through the callback.
ExplanationProvider = Callable[
    [Radiograph, ExplanationChoice, threading.Event, StageProgress], Explanation
]


@runtime_checkable
class FeatureExplainer(Protocol):
    """An ``ExplanationProvider`` that also explains FIGAN features (the engine's does when its
    model folder has a ``figan/`` bundle)."""

    def __call__(
        self,
        radiograph: Radiograph,
        choice: ExplanationChoice,
        cancel: threading.Event,
        progress: StageProgress,
    ) -> Explanation: ...

    def features(self) -> tuple[Feature, ...]:
        """The features it can explain, in component order; () when it has none. May load models
        (run it on the worker); an ``EngineError`` says why the features are unusable."""
        ...


def feature_explainer(explainer: ExplanationProvider | None) -> FeatureExplainer | None:
    """``explainer`` when it explains features too, else None."""
    return explainer if isinstance(explainer, FeatureExplainer) else None


NO_EXPLANATION_TEXT = "No explanation yet — models not loaded"
