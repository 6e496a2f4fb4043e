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
    """ILO profusion 1-3 and a type from ``opacity_types``; opacity contrast uniform in its range;
    a diffuse haze (uniform in ``haze_range``) with probability ``haze_probability``, else none.

    Defaults: the shipped models' recipe. It reaches down to the findings ``cxr-explain
    phantoms`` draws by default (documented contrast 1, no haze): half the findings are nodules
    only, so the classifier must learn to see them. A recipe of strong nodules plus haze (contrast
    2.5-4, haze always) taught the classifier to read the haze and the large r opacities only;
    it called every p and q finding of contrast 1-2 healthy (see docs/training.md).
    """

    opacity_types: tuple[str, ...] = ("p", "q", "r")
    haze_range: tuple[float, float] = (0.05, 0.3)
    opacity_density_range: tuple[float, float] = (1.0, 3.0)
    haze_probability: float = 0.5

    def __post_init__(self) -> None:
        if not self.opacity_types:
            raise ValueError("a disease recipe needs at least one opacity type")
        for kind in self.opacity_types:
            IloType(kind)  # ValueError names an unknown type
        for name in ("haze_range", "opacity_density_range"):
            low, high = getattr(self, name)
            if not low <= high:
                raise ValueError(f"{name} must be (low, high) with low <= high")
        if not 0.0 <= self.haze_probability <= 1.0:
            raise ValueError(f"haze_probability must be in [0, 1], got {self.haze_probability}")

    def draw(self, rng: np.random.Generator) -> DiseaseParams:
        """One finding. The draw order is part of the recipe: data sets depend on it."""
        profusion = int(rng.integers(1, 4))
        opacity_type = IloType(str(rng.choice(list(self.opacity_types))))
        haze = float(rng.uniform(*self.haze_range))
        density = float(rng.uniform(*self.opacity_density_range))
        hazy = float(rng.random()) < self.haze_probability
        return DiseaseParams(
            profusion=profusion,
            opacity_type=opacity_type,
            haze=haze if hazy else 0.0,
            opacity_density=density,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "opacity_types": list(self.opacity_types),
            "haze_range": list(self.haze_range),
            "opacity_density_range": list(self.opacity_density_range),
            "haze_probability": self.haze_probability,
        }


DEFAULT_RECIPE = DiseaseRecipe()
#: The findings ``cxr-explain phantoms`` writes by default: ILO profusion 1-3 of type p, q or r at
#: the documented contrast 1, no haze. The hardest end of the training recipe, and what a new user
#: meets first; ``cxr-explain validate --findings plain`` scores the models on it.
PLAIN_RECIPE = DiseaseRecipe(opacity_density_range=(1.0, 1.0), haze_probability=0.0)
#: Named finding distributions for ``--findings`` options.
RECIPES: dict[str, DiseaseRecipe] = {"training": DEFAULT_RECIPE, "plain": PLAIN_RECIPE}
