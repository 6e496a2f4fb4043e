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
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.api import ExplanationResult, Radiograph

FloatImage = npt.NDArray[np.float32]


class Direction(StrEnum):
    """Which way the CycleGAN translates the image."""

    AUTO = "auto"  # away from the class the classifier predicts
    TO_HEALTHY = "to_healthy"
    TO_DISEASE = "to_disease"

    @property
    def title(self) -> str:
        return _DIRECTION_TITLES[self]


_DIRECTION_TITLES = {
    Direction.AUTO: "Auto (away from prediction)",
    Direction.TO_HEALTHY: "To healthy",
    Direction.TO_DISEASE: "To disease",
}


class ExplanationFrame(Protocol):
    """One step of the translation-strength slider."""

    @property
    def strength(self) -> float:
        """Translation strength in ``[0, 1]`` (0 = original, 1 = full translation)."""
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
    def direction(self) -> Direction: ...

    @property
    def model_name(self) -> str: ...

    @property
    def frames(self) -> Sequence[ExplanationFrame]:
        """Slider frames in order of increasing strength; may be empty."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]:
        """One-line notes for the banner ("invalid counterfactual", "out of distribution")."""
        ...


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


# The engine's warning for a counterfactual that did not flip the class starts like this.
INVALID_WARNING_PREFIX = "invalid counterfactual"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    text: str


def explanation_alerts(explanation: Explanation) -> tuple[Alert, ...]:
    """The banner's lines for ``explanation``, most serious first.

    Besides ``warnings`` an explanation may carry two optional attributes, read when present:
    ``valid`` (False = the prediction did not cross the threshold) and ``out_of_distribution``
    (a one-line message, or None). The engine's own "invalid counterfactual" warning is folded
    into the structured alert so it is not shown twice.
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
        if valid is False and warning.lower().startswith(INVALID_WARNING_PREFIX):
            continue
        if out_of_distribution is not None and warning in out_of_distribution:
            continue  # already in the out-of-distribution alert
        alerts.append(Alert(AlertKind.NOTE, warning))
    return tuple(alerts)


# The engine call the viewer runs on its worker: synchronous, cancellable through the event.
ExplanationProvider = Callable[[Radiograph, Direction, threading.Event], Explanation]

NO_EXPLANATION_TEXT = "No explanation yet — models not loaded"
