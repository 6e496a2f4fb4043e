"""Per-image FIGAN: inversion reproduces a generated image; frames follow the requested score."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from figan_helpers import TinyModels

from engine.errors import InputError, ModelError
from engine.explain.frames import Frame
from engine.explain.validate import phantom_radiograph
from engine.figan.explore import (
    ComponentFrame,
    ExploreRequest,
    FiganModels,
    explore,
    invert,
    load_figan_models,
)


@pytest.fixture(scope="module")
def models(tiny: TinyModels) -> FiganModels:
    return load_figan_models(tiny.models)


def _generated(models: FiganModels, condition: list[float], seed: int) -> torch.Tensor:
    latent = torch.randn(
        1, models.network.latent_dim, generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        return models.network(torch.tensor([condition]), latent)


def test_inversion_reproduces_a_generated_image(models: FiganModels) -> None:
    target = _generated(models, [1.0, -0.5], seed=3)
    projector = models.projector()
    with torch.no_grad():
        measured = projector(target)[0]
        start = models.network(measured, torch.zeros(1, models.network.latent_dim))
    start_error = float((start - target).abs().mean() / 2)
    found = invert(models.network, projector, target, steps=300, seed=0)
    assert found.error < 0.005
    assert found.condition == pytest.approx([1.0, -0.5], abs=0.05)
    assert found.error < 0.5 * start_error
    assert found.reconstruction.shape == (32, 32)
    assert found.condition.shape == (2,)
    assert not found.reconstruction.flags.writeable
    # the generator's weights are untouched and trainable again afterwards
    assert all(p.requires_grad for p in models.network.parameters())


def _score_following(models: FiganModels, steps: int = 150) -> FiganModels:
    """A copy of the tiny generator fine-tuned on the score term alone: a generator for which the
    classifier's reading of every component follows the condition, built in a few seconds."""
    generator = copy.deepcopy(models.network).train()
    projector = models.projector()
    optimizer = torch.optim.Adam(generator.parameters(), lr=2e-3)
    rng = torch.Generator().manual_seed(0)
    for _ in range(steps):
        conditions = torch.rand(16, models.n_components, generator=rng) * 5 - 2.5
        latents = torch.randn(16, generator.latent_dim, generator=rng)
        scores, _ = projector(generator(conditions, latents))
        loss = torch.nn.functional.mse_loss(scores, conditions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    generator.eval()
    return dataclasses.replace(
        models, generator=dataclasses.replace(models.generator, module=generator)
    )


def _with_full_range(display: np.ndarray) -> np.ndarray:
    """``display`` with its darkest and brightest 0.6 % of pixels set to 0 and 1: the model
    window (0.5-99.5 percentiles) then maps it onto itself, so the explored image is the one
    the generator made (any other image is stretched to its own percentiles first)."""
    out = display.copy().ravel()
    order = np.argsort(out)
    count = int(np.ceil(0.006 * out.size))
    out[order[:count]], out[order[-count:]] = 0.0, 1.0
    return out.reshape(display.shape)


def test_achieved_component_score_rises_with_the_requested_one(models: FiganModels) -> None:
    following = _score_following(models)
    image = _generated(following, [0.0, 0.0], seed=5)
    display = _with_full_range(((image[0, 0].numpy() + 1) / 2).clip(0, 1))
    whole = np.ones(display.shape, dtype=bool)
    for component in (0, 1):
        result = explore(
            phantom_radiograph(display),
            following,
            ExploreRequest(component=component, n_frames=7, inversion_steps=100),
            lung_mask=whole,
        )
        frames = result.sequence.frames
        assert len(frames) == 7
        assert all(isinstance(f, ComponentFrame) and isinstance(f, Frame) for f in frames)
        assert [f.position for f in frames] == pytest.approx(np.linspace(-2, 2, 7).tolist())
        achieved = result.achieved[:, component]
        assert result.score_correlation > 0.9, achieved
        assert achieved[-1] - achieved[0] > 1.0  # in SD units, over a requested 4
        assert [f.scores[component] for f in frames] == pytest.approx(achieved.tolist())
        assert all(0.0 <= f.probability <= 1.0 for f in frames)
        assert result.sequence.axis == f"PLS component {component + 1}"
        assert frames[0].image.shape == display.shape
        assert not frames[0].image.flags.writeable


def test_bad_requests_are_clear_errors(models: FiganModels) -> None:
    display = np.full((32, 32), 0.5, dtype=np.float32)
    with pytest.raises(InputError, match="component 3 does not exist"):
        explore(phantom_radiograph(display), models, ExploreRequest(component=2))
    with pytest.raises(ValueError, match="n_frames"):
        ExploreRequest(component=0, n_frames=1)
    with pytest.raises(ValueError, match="span"):
        ExploreRequest(component=0, span=0.0)
    with pytest.raises(InputError, match="lung field"):
        explore(
            phantom_radiograph(display),
            models,
            ExploreRequest(component=0),
            lung_mask=np.zeros((32, 32), dtype=bool),
        )


def test_a_figan_made_for_another_classifier_is_refused(models: FiganModels) -> None:
    from engine.figan.explore import check_pairing

    other = dataclasses.replace(
        models.classifier, config=dataclasses.replace(models.classifier.config, sha256="0" * 64)
    )
    with pytest.raises(ModelError, match="retrain"):
        check_pairing(models.generator, models.pls, other)


def test_the_slider_leaves_the_device_segmenters_devices_unchanged(
    models: FiganModels, tmp_path
) -> None:
    """With a device segmenter in the model folder, no frame changes a marked pixel."""
    from engine.inference.model_set import DEVICE_SEGMENTER_ID
    from engine.models import BundleConfig, save_bundle
    from engine.networks import Architecture, UNet

    network = UNet(in_channels=1, out_channels=1, base_width=4, depth=2)
    with torch.no_grad():  # every pixel a device
        network.head.weight.zero_()
        network.head.bias.fill_(5.0)
    kwargs = {"in_channels": 1, "out_channels": 1, "base_width": 4, "depth": 2}
    config = BundleConfig(DEVICE_SEGMENTER_ID, Architecture.UNET, kwargs, (32, 32), {})
    save_bundle(network, tmp_path, config)
    from engine.models import load_bundle

    everywhere = dataclasses.replace(
        models, devices=load_bundle(tmp_path / DEVICE_SEGMENTER_ID, Architecture.UNET)
    )
    display = _with_full_range((_generated(models, [0.0, 0.0], seed=3)[0, 0].numpy() + 1) / 2)
    request = ExploreRequest(component=0, n_frames=3, inversion_steps=5)
    whole = np.ones(display.shape, dtype=bool)
    kept = explore(phantom_radiograph(display), everywhere, request, lung_mask=whole)
    assert kept.keep is not None
    assert kept.keep.all()
    for frame in kept.sequence.frames:
        np.testing.assert_array_equal(frame.image, kept.original)
    free = explore(phantom_radiograph(display), models, request, lung_mask=whole)
    assert free.keep is None
    assert any(not np.array_equal(f.image, free.original) for f in free.sequence.frames)
