"""The change classifier guidance trains on is the change the classifier meets as displayed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.geometry import Letterbox, from_model
from engine.inference.model_input import model_input
from engine.training.shown_change import change_as_shown

GENERATOR_SIDE = 16
CLASSIFIER_SIDE = 32


def _as_displayed(change: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """The pipeline's way, in model units: the change mapped onto the file's grid, added to a
    flat image there, and the composite read at the classifier's size, less the image alone."""
    flat = np.full(source, 0.5, dtype=np.float32)
    on_file = from_model(change / 2.0, Letterbox.fit(source, GENERATOR_SIDE))
    shown = model_input(flat + on_file, None, CLASSIFIER_SIDE).whole
    return shown - model_input(flat, None, CLASSIFIER_SIDE).whole


@pytest.mark.parametrize(
    "source",
    [
        (24, 24),  # up-sampled: the file is smaller than the classifier's input
        (32, 32),  # exactly the classifier's size: blurred, not resampled
        (64, 64),  # down-sampled
        (80, 48),  # letterboxed, down-sampled
        (20, 30),  # letterboxed, up-sampled
        (GENERATOR_SIDE, GENERATOR_SIDE),
    ],
)
def test_the_change_takes_the_displayed_path(source: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(source))
    change = (rng.standard_normal((GENERATOR_SIDE, GENERATOR_SIDE)) * 0.1).astype(np.float32)
    expected = _as_displayed(change, source)
    got = change_as_shown(torch.from_numpy(change)[None, None], [source], CLASSIFIER_SIDE)
    np.testing.assert_allclose(got[0, 0].numpy(), expected, atol=2e-5)


def test_a_fine_texture_is_not_what_a_direct_resampling_shows() -> None:
    """Why the module exists: a checkerboard drawn at the generator's size reaches a
    classifier reading a file of another size weaker than the direct resampling shows it."""
    checker = torch.tensor(np.indices((16, 16)).sum(0) % 2 * 2.0 - 1.0, dtype=torch.float32)
    checker = checker[None, None] * 0.1
    direct = F.interpolate(checker, size=(64, 64), mode="bilinear", align_corners=False)
    shown = change_as_shown(checker, [(32, 32)], 64)
    assert float(shown.abs().mean()) < 0.8 * float(direct.abs().mean())


def test_batches_keep_their_own_grids_and_gradients() -> None:
    change = torch.zeros((2, 1, GENERATOR_SIDE, GENERATOR_SIDE), requires_grad=True)
    shown = change_as_shown(change + 0.1, [(24, 24), (64, 32)], CLASSIFIER_SIDE)
    assert shown.shape == (2, 1, CLASSIFIER_SIDE, CLASSIFIER_SIDE)
    # The letterboxed file (64 x 32) leaves the classifier's side margins untouched.
    seen = shown.detach()
    assert float(seen[1, 0, :, :4].abs().max()) == 0.0
    assert float(seen[0, 0].min()) == pytest.approx(0.1)
    shown.sum().backward()
    assert change.grad is not None
    assert float(change.grad.abs().sum()) > 0.0
    with pytest.raises(ValueError, match="source shapes"):
        change_as_shown(change, [(24, 24)], CLASSIFIER_SIDE)
