"""Tiny, randomly initialised model bundles: the explanation machinery without trained weights."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from engine.explain.pipeline import ExplanationResult
from engine.inference.model_set import ModelSet, load_model_set
from engine.io import load_radiograph
from engine.testing import write_tiny_models
from engine.types import Radiograph


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> ModelSet:
    return load_model_set(write_tiny_models(tmp_path_factory.mktemp("models")))


@pytest.fixture
def chest_like(tmp_path) -> Radiograph:
    """A 60 x 44 (portrait, non-square) 8-bit image with two darker 'lungs'."""
    rows, columns = np.mgrid[0:60, 0:44]
    image = np.full((60, 44), 170, np.uint8)
    for centre in (13, 31):
        image[((columns - centre) / 8.0) ** 2 + ((rows - 28) / 18.0) ** 2 < 1] = 60
    path = tmp_path / "chest.png"
    Image.fromarray(image).save(path)
    return load_radiograph(path)


@pytest.fixture
def without_reasons() -> Callable[[ExplanationResult], ExplanationResult]:
    """A copy of a result with no reason for a caution: in distribution, every counterfactual
    qualifying, valid and monotonic (the image's resolution is left as it is)."""

    def clear(result: ExplanationResult) -> ExplanationResult:
        return dataclasses.replace(
            result,
            ood_score=None,
            segmentation_uncertainty=None,
            counterfactuals=tuple(
                dataclasses.replace(
                    c,
                    valid=True,
                    qualifies=True,
                    frames=dataclasses.replace(c.frames, monotonic=True),
                )
                for c in result.counterfactuals
            ),
        )

    return clear
