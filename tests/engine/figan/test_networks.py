"""The FIGAN conditional generator and projection discriminator: shapes, checks, bundles."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.models import BundleConfig, load_bundle, save_bundle
from engine.networks import (
    Architecture,
    ConditionalGenerator,
    ProjectionDiscriminator,
    architecture_of,
    build_network,
)


@pytest.mark.parametrize("size", [8, 16, 32])
def test_generator_and_discriminator_shapes(size: int) -> None:
    torch.manual_seed(0)
    generator = ConditionalGenerator(n_conditions=3, latent_dim=5, size=size, base_width=4)
    critic = ProjectionDiscriminator(n_conditions=3, size=size, base_width=4, max_width=16)
    condition, latent = torch.randn(2, 3), torch.randn(2, 5)
    with torch.no_grad():
        image = generator(condition, latent)
    assert image.shape == (2, 1, size, size)
    assert float(image.min()) >= -1.0
    assert float(image.max()) <= 1.0
    assert critic(image, condition).shape == (2,)


@torch.no_grad()
def test_condition_changes_the_image_and_batch_does_not() -> None:
    torch.manual_seed(0)
    generator = ConditionalGenerator(n_conditions=2, latent_dim=3, size=16, base_width=4).eval()
    latent = torch.randn(1, 3)
    a = generator(torch.tensor([[-2.0, 0.0]]), latent)
    b = generator(torch.tensor([[2.0, 0.0]]), latent)
    assert float((a - b).abs().max()) > 1e-3
    # GroupNorm: an image does not depend on the rest of its batch (per-image inversion)
    batch = generator(torch.tensor([[-2.0, 0.0], [5.0, 5.0]]), torch.cat([latent, latent * 3]))
    assert torch.allclose(batch[:1], a, atol=1e-6)


def test_bad_arguments_and_inputs_are_value_errors() -> None:
    with pytest.raises(ValueError, match="size"):
        ConditionalGenerator(size=48)
    with pytest.raises(ValueError, match="n_conditions"):
        ProjectionDiscriminator(n_conditions=0)
    generator = ConditionalGenerator(n_conditions=2, latent_dim=3, size=8, base_width=2)
    with pytest.raises(ValueError, match="condition"):
        generator(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="latent"):
        generator(torch.zeros(1, 2), torch.zeros(2, 3))
    critic = ProjectionDiscriminator(n_conditions=2, size=8, base_width=2)
    with pytest.raises(ValueError, match="8x8"):
        critic(torch.zeros(1, 1, 16, 16), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="condition"):
        critic(torch.zeros(1, 1, 8, 8), torch.zeros(1, 3))


def test_registered_and_bundle_round_trip_is_exact(tmp_path: Path) -> None:
    kwargs = {"n_conditions": 2, "latent_dim": 3, "size": 16, "base_width": 4, "max_width": 8}
    generator = build_network("figan_generator", kwargs)
    assert isinstance(generator, ConditionalGenerator)
    assert architecture_of(generator) is Architecture.FIGAN_GENERATOR
    assert architecture_of(ProjectionDiscriminator()) is Architecture.FIGAN_DISCRIMINATOR
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    config = BundleConfig(
        model_id="figan",
        architecture=Architecture.FIGAN_GENERATOR,
        architecture_kwargs=kwargs,
        input_size=(16, 16),
        normalisation={"condition": "pls.json"},
    )
    loaded = load_bundle(save_bundle(generator, tmp_path, config), Architecture.FIGAN_GENERATOR)
    condition, latent = torch.randn(2, 2), torch.randn(2, 3)
    with torch.no_grad():
        assert torch.equal(generator.eval()(condition, latent), loaded.module(condition, latent))
