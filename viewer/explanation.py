"""What the viewer needs from an explanation, as structural protocols.

The explanation engine will return a frozen result; any object with these attributes plugs in
without conversion (the tests use a small fake). Arrays follow the engine's conventions: row-major
``(H, W)`` float32 on the original image's grid, read-only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.api import Radiograph

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


# The engine call the viewer runs on its worker: synchronous, cancellable through the event.
ExplanationProvider = Callable[[Radiograph, Direction, threading.Event], Explanation]

NO_EXPLANATION_TEXT = "No explanation yet — models not loaded"
