"""DiseaseRecipe: draws stay in their ranges, are reproducible, and bad recipes are refused."""

from __future__ import annotations

import numpy as np
import pytest

from engine.phantoms import DEFAULT_RECIPE, DiseaseRecipe, IloType


def test_draws_stay_in_the_recipe_and_repeat_with_the_seed() -> None:
    recipe = DiseaseRecipe(
        opacity_types=("q", "r"),
        haze_range=(0.1, 0.2),
        opacity_density_range=(2.5, 4.0),
        haze_probability=0.5,
    )
    first = [recipe.draw(np.random.default_rng(3)) for _ in range(1)]
    draws = [recipe.draw(rng) for rng in [np.random.default_rng(3)] for _ in range(200)]
    assert draws[0] == first[0]
    assert {d.opacity_type for d in draws} == {IloType.Q, IloType.R}
    assert {d.profusion for d in draws} == {1, 2, 3}
    assert all(0.1 <= d.haze <= 0.2 or d.haze == 0.0 for d in draws)
    hazy = np.mean([d.haze > 0 for d in draws])
    assert 0.35 < hazy < 0.65  # nodules only in about half
    assert all(2.5 <= d.opacity_density <= 4.0 for d in draws)


def test_default_recipe_is_what_the_training_docs_state() -> None:
    assert DEFAULT_RECIPE.to_dict() == {
        "opacity_types": ["p", "q", "r"],
        "haze_range": [0.05, 0.3],
        "opacity_density_range": [1.0, 3.0],
        "haze_probability": 0.5,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"opacity_types": ()}, "at least one"),
        ({"opacity_types": ("x",)}, "x"),
        ({"haze_range": (0.3, 0.1)}, "low <= high"),
        ({"haze_probability": 1.5}, "haze_probability"),
    ],
)
def test_bad_recipes_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiseaseRecipe(**options)  # type: ignore[arg-type]
