"""Where the explanation of the shown image stands, and the one line that says so (no Qt).

The main window keeps one ``ExplanationStatus``; the panes without an explanation, the
explanation panel and the status bar all show its ``text``, so they cannot disagree (they did:
"models not loaded" while models computed, "Computing…" forever after a cancel).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from viewer.explanation import NO_EXPLANATION_TEXT

EXPLAIN_SHORTCUT = "E"
EXPLAIN_ACTION_TEXT = "Compute Explanation"
CANCELLED_TEXT = (
    f"Cancelled — press {EXPLAIN_SHORTCUT} (View ▸ {EXPLAIN_ACTION_TEXT}) to compute again"
)
READY_TEXT = "Explanation ready"
# The engine's last stage ends the job; "done finished" says nothing.
_SILENT_STAGES = frozenset({"", "done"})


class ExplanationState(StrEnum):
    NO_IMAGE = "no_image"
    NO_MODELS = "no_models"  # an image, but no explainer: nothing will be computed
    LOADING = "loading"  # an image is being opened
    COMPUTING = "computing"
    CANCELLED = "cancelled"
    FAILED = "failed"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class ExplanationStatus:
    """``subject``: the file being opened (LOADING), what is computed (COMPUTING, e.g.
    "Computing the explanation"), or the one-line error (FAILED). ``stage`` and ``fraction``:
    the engine's last finished stage and its progress in ``[0, 1]`` while computing."""

    state: ExplanationState
    subject: str = ""
    stage: str = ""
    fraction: float | None = None

    @property
    def text(self) -> str:
        state = self.state
        if state is ExplanationState.NO_IMAGE:
            return ""
        if state is ExplanationState.NO_MODELS:
            return NO_EXPLANATION_TEXT
        if state is ExplanationState.LOADING:
            return f"Opening {self.subject}…"
        if state is ExplanationState.COMPUTING:
            return f"{self.subject}…{self._progress_text()}"
        if state is ExplanationState.CANCELLED:
            return CANCELLED_TEXT
        if state is ExplanationState.FAILED:
            return self.subject
        return READY_TEXT

    def with_progress(self, fraction: float, stage: str) -> ExplanationStatus:
        return ExplanationStatus(self.state, self.subject, stage, fraction)

    def _progress_text(self) -> str:
        if self.fraction is None:
            return ""
        percent = f" {100.0 * self.fraction:.0f} %"
        if self.stage in _SILENT_STAGES:
            return percent
        return f"{percent} ({self.stage} finished)"


def loading(name: str) -> ExplanationStatus:
    return ExplanationStatus(ExplanationState.LOADING, name)


def computing(subject: str) -> ExplanationStatus:
    return ExplanationStatus(ExplanationState.COMPUTING, subject)


def failed(message: str) -> ExplanationStatus:
    return ExplanationStatus(ExplanationState.FAILED, message)


NO_IMAGE = ExplanationStatus(ExplanationState.NO_IMAGE)
NO_MODELS = ExplanationStatus(ExplanationState.NO_MODELS)
CANCELLED = ExplanationStatus(ExplanationState.CANCELLED)
READY = ExplanationStatus(ExplanationState.READY)
