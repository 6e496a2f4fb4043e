"""What an explanation is asked for: direction, slider frames, threshold.

Kept apart from the pipeline (which needs torch) so that a command can validate its arguments
and start reading the image before the models' imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.explain.frames import strength_positions


class Direction(StrEnum):
    AUTO = "auto"  # toward the other class of the classifier's decision
    TO_HEALTHY = "to-healthy"
    TO_DISEASE = "to-disease"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class ExplainRequest:
    request_id: int = 0
    direction: Direction = Direction.AUTO
    n_frames: int = 9
    exaggerate: float = 1.0  # last slider position; > 1 extrapolates beyond the counterfactual
    threshold: float = 0.5
    with_attributions: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be within (0, 1), got {self.threshold}")
        strength_positions(self.n_frames, self.exaggerate)  # validates both
