"""Letterbox round trip: aspect ratio kept, content mapped back onto the original grid."""

from __future__ import annotations

import numpy as np
import pytest

from engine.geometry import Letterbox, from_model, to_model


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (128, 128), (517, 133)])
def test_letterbox_keeps_aspect_ratio_and_centres(shape):
    box = Letterbox.fit(shape, 128)
    assert max(box.content_shape) == 128
    ratio_in = shape[0] / shape[1]
    ratio_out = box.content_shape[0] / box.content_shape[1]
    assert ratio_out == pytest.approx(ratio_in, rel=0.02)
    top, left = box.offset
    assert abs((128 - box.content_shape[0]) - 2 * top) <= 1
    assert abs((128 - box.content_shape[1]) - 2 * left) <= 1


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (517, 133)])
def test_smooth_image_round_trips_onto_the_original_grid(shape):
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    image = np.sin(rows / shape[0] * 3.0) + np.cos(columns / shape[1] * 2.0)
    box = Letterbox.fit(shape, 128)
    model_input = to_model(image, box, fill=-5.0)
    assert model_input.shape == (128, 128)
    assert (model_input == -5.0).any() or box.content_shape == (128, 128)
    back = from_model(model_input, box)
    assert back.shape == shape
    assert np.abs(back - image).mean() < 0.02


def test_a_feature_lands_where_it_was():
    image = np.zeros((400, 250), np.float32)
    image[300:320, 50:70] = 1.0
    box = Letterbox.fit(image.shape, 64)
    back = from_model(to_model(image, box, fill=0.0), box)
    row, column = np.unravel_index(np.argmax(back), back.shape)
    assert 295 <= row <= 325
    assert 45 <= column <= 75


def test_masks_stay_binary_with_nearest():
    mask = np.zeros((90, 60), np.float32)
    mask[20:70, 10:30] = 1
    box = Letterbox.fit(mask.shape, 32)
    back = from_model(to_model(mask, box, 0.0, nearest=True), box, nearest=True)
    assert set(np.unique(back)) <= {0.0, 1.0}


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        Letterbox.fit((10, 10), 0)
    with pytest.raises(ValueError, match="source_shape"):
        Letterbox.fit((0, 10), 8)


def test_the_model_input_blur_matches_scipy_and_keeps_constants():
    """At the model input's sigma (0.5 px) the blur is scipy's Gaussian with repeated edges."""
    from scipy.ndimage import gaussian_filter

    from engine.blur import gaussian_blur
    from engine.inference.model_input import UNRESAMPLED_SIGMA

    sigma = UNRESAMPLED_SIGMA
    image = np.random.default_rng(3).random((37, 23)).astype(np.float32)
    np.testing.assert_allclose(
        gaussian_blur(image, sigma), gaussian_filter(image, sigma, mode="nearest"), atol=1e-6
    )
    flat = np.full((9, 5), 0.25, np.float32)
    np.testing.assert_allclose(gaussian_blur(flat, sigma), flat, atol=1e-6)
