"""A distribution of pneumoconiosis findings to draw phantoms from: one per data set or report.

The default models' training set (``cxr-explain train-defaults``) and the validation report
(``cxr-explain validate``) draw from the same recipe, with disjoint anatomy seeds, so the report
measures the models on held-out images of the distribution they were trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.phantoms.params import DiseaseParams, IloType


@dataclass(frozen=True, slots=True)
class DiseaseRecipe:
    """ILO profusion 1-3 and a type from ``opacity_types``; haze and opacity contrast uniform.

    Defaults: the shipped models' recipe. At the 128 px model input most small opacities of the
    documented contrast are sub-pixel, hence contrast 2.5-4 (see docs/training.md).
    """

    opacity_types: tuple[str, ...] = ("p", "q", "r")
    haze_range: tuple[float, float] = (0.1, 0.3)
    opacity_density_range: tuple[float, float] = (2.5, 4.0)

    def __post_init__(self) -> None:
        if not self.opacity_types:
            raise ValueError("a disease recipe needs at least one opacity type")
        for kind in self.opacity_types:
            IloType(kind)  # ValueError names an unknown type
        for name in ("haze_range", "opacity_density_range"):
            low, high = getattr(self, name)
            if not low <= high:
                raise ValueError(f"{name} must be (low, high) with low <= high")

    def draw(self, rng: np.random.Generator) -> DiseaseParams:
        """One finding. The draw order is part of the recipe: data sets depend on it."""
        return DiseaseParams(
            profusion=int(rng.integers(1, 4)),
            opacity_type=IloType(str(rng.choice(list(self.opacity_types)))),
            haze=float(rng.uniform(*self.haze_range)),
            opacity_density=float(rng.uniform(*self.opacity_density_range)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "opacity_types": list(self.opacity_types),
            "haze_range": list(self.haze_range),
            "opacity_density_range": list(self.opacity_density_range),
        }


DEFAULT_RECIPE = DiseaseRecipe()
