"""COUT, the counterfactual transition score (after Khorram and Fuxin, CVPR 2022).

Insert the counterfactual's pixels into the original in order of decreasing |change| (lung pixels
only, in ``steps`` equal portions), classify each intermediate image through the model-input path,
and average ``P(target) - P(source)`` over the portions (trapezoid rule). The score lies in
``[-1, 1]``: 1 when the first few most-changed pixels already flip the classifier fully, about
0 when the path never moves it, negative when it moves the wrong way. A difference whose largest
changes are not what the classifier reads scores low even when the whole counterfactual is valid.
"""

from __future__ import annotations

import numpy as np

from engine.explain.request import Direction
from engine.inference.run import classify
from engine.models import LoadedModel
from engine.types import FloatImage

DEFAULT_STEPS = 10


def transition_curve(
    classifier: LoadedModel,
    original: FloatImage,
    translated: FloatImage,
    lung: np.ndarray,
    steps: int = DEFAULT_STEPS,
) -> np.ndarray:
    """P(pneumoconiosis) after inserting 0, 1/steps, ..., all of the changed lung pixels."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    change = np.abs(translated - original)
    changed = np.flatnonzero(lung.ravel() & (change.ravel() > 0))
    order = changed[np.argsort(-change.ravel()[changed], kind="stable")]
    images = []
    for step in range(steps + 1):
        count = round(len(order) * step / steps)
        image = original.copy().ravel()
        image[order[:count]] = translated.ravel()[order[:count]]
        images.append(image.reshape(original.shape))
    return np.asarray(classify(classifier, images, lung), dtype=np.float64)


def cout(curve: np.ndarray, direction: Direction) -> float:
    """The score of a :func:`transition_curve` toward ``direction``'s target class."""
    target = curve if direction is Direction.TO_DISEASE else 1.0 - curve
    margin = target - (1.0 - target)  # P(target) - P(source)
    return float(np.trapezoid(margin, dx=1.0 / (len(curve) - 1)))
