"""One model-input path: the training loader and the explanation pipeline give a model the very
same tensor for the same file and mask, whatever the size, aspect ratio and mask shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.explain.pipeline import Direction, ExplainRequest, explain
from engine.inference.model_input import BACKGROUND, model_input, model_intensity
from engine.io import load_radiograph
from engine.training.data import LungField, Sample, Split, load_images
from engine.types import ImageInfo, Radiograph, SourceFormat, VoiFunction, VoiPreset


def _write_case(folder: Path, height: int, width: int, ellipses: list, deep: bool, seed: int):
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width]
    image = 0.6 + 0.3 * rng.random((height, width))
    mask = np.zeros((height, width), bool)
    for cy, cx, ry, rx in ellipses:
        inside = ((rows - cy * height) / (ry * height)) ** 2 + (
            (columns - cx * width) / (rx * width)
        ) ** 2 < 1
        mask |= inside
    image[mask] -= 0.4
    top = 65535 if deep else 255
    pixels = np.rint(np.clip(image, 0, 1) * top).astype(np.uint16 if deep else np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    image_path = folder / "case.png"
    mask_path = folder / "case_lung.png"
    Image.fromarray(pixels).save(image_path)
    Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
    return image_path, mask_path


ellipse = st.tuples(
    st.floats(0.2, 0.8), st.floats(0.2, 0.8), st.floats(0.05, 0.35), st.floats(0.05, 0.3)
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    height=st.integers(33, 180),
    width=st.integers(33, 180),
    ellipses=st.lists(ellipse, min_size=1, max_size=3),
    deep=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_training_loader_and_explain_feed_the_classifier_the_same_tensor(
    tiny_models, tmp_path_factory, height, width, ellipses, deep, seed
):
    folder = tmp_path_factory.mktemp("parity")
    image_path, mask_path = _write_case(folder, height, width, ellipses, deep, seed)
    classifier = tiny_models.classifier
    size = int(max(classifier.config.input_size))
    sample = Sample("case", image_path, 0, Split.TRAIN, lung_mask=mask_path)
    trained_on = load_images([sample], size, lung_field=LungField.MASK).images[0, 0]

    seen: list[torch.Tensor] = []
    handle = classifier.module.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone())
    )
    try:
        with Image.open(mask_path) as opened:
            mask = np.asarray(opened) > 127
        explain(
            load_radiograph(image_path),
            tiny_models,
            ExplainRequest(direction=Direction.TO_DISEASE, n_frames=2, with_attributions=False),
            lung_mask=mask,
        )
    finally:
        handle.remove()
    first = seen[0][0, 0].numpy()  # the classifier's first call: the original
    np.testing.assert_array_equal(first, trained_on)
    assert (first == BACKGROUND).any()  # the lung field was cut out (and the test means it)


def test_model_intensity_ignores_the_files_display_window():
    pixels = np.linspace(0, 30000, 400, dtype=np.float32).reshape(20, 20)
    info = ImageInfo(SourceFormat.DICOM, 20, 20)
    wide = VoiPreset("wide", 15000, 30000, VoiFunction.LINEAR)
    narrow = VoiPreset("narrow", 4000, 2000, VoiFunction.LINEAR)
    first = Radiograph(pixels, (wide,), False, info)
    second = Radiograph(pixels, (narrow, wide), False, info)
    assert not np.allclose(first.display(), second.display())
    np.testing.assert_array_equal(model_intensity(first), model_intensity(second))
    inverted = Radiograph(pixels, (wide,), True, info)
    np.testing.assert_allclose(model_intensity(inverted), 1.0 - model_intensity(first), atol=1e-6)


def test_eight_and_sixteen_bit_files_of_one_image_give_nearly_the_same_input(tmp_path):
    ellipses = [(0.5, 0.3, 0.3, 0.15), (0.5, 0.7, 0.3, 0.15)]
    shallow, mask_path = _write_case(tmp_path / "8", 150, 120, ellipses, False, 5)
    deep, _ = _write_case(tmp_path / "16", 150, 120, ellipses, True, 5)
    with Image.open(mask_path) as opened:
        mask = np.asarray(opened) > 127
    inputs = [
        model_input(model_intensity(load_radiograph(p)), mask, 64).field for p in (shallow, deep)
    ]
    # 8-bit rounding is at most half a grey level (1/255 of the range, 2/255 model units).
    assert np.abs(inputs[0] - inputs[1]).max() < 2.5 / 255 * 2


def test_model_input_checks_the_mask_grid():
    with pytest.raises(ValueError, match="lung mask shape"):
        model_input(np.zeros((10, 12), np.float32), np.zeros((12, 10), bool), 16)


def test_an_image_at_the_model_size_is_as_smooth_as_its_neighbours():
    """No resampling (the image is exactly the model's size) must not mean a sharper input: the
    classifier reads fine detail as disease (docs/validation/resolution.md)."""
    rng = np.random.default_rng(5)

    def detail(side: int) -> float:
        """Mean pixel-to-pixel variation of the model input of white-noise images."""
        values = []
        for _ in range(4):
            image = (0.4 + 0.2 * rng.random((side, side))).astype(np.float32)
            values.append(float(np.std(np.diff(model_input(image, None, 64).whole, axis=1))))
        return float(np.mean(values))

    at_size, neighbours = detail(64), [detail(62), detail(66)]
    assert 0.9 * min(neighbours) <= at_size <= 1.1 * max(neighbours)
