"""Shape contracts, argument validation and the registry of engine.networks."""

from __future__ import annotations

import pytest
import torch

from engine.networks import (
    ARCHITECTURES,
    Architecture,
    ClassifierNet,
    CycleGANGenerator,
    DiscriminatorKind,
    PaperDiscriminator,
    PatchGANDiscriminator,
    UNet,
    architecture_of,
    build_network,
)
from engine.networks.discriminator import output_size

torch.manual_seed(0)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (64, 48), (48, 64)])
@pytest.mark.parametrize("attention", [True, False])
def test_generator_keeps_size_and_range(height: int, width: int, attention: bool) -> None:
    generator = CycleGANGenerator(base_width=4, n_residual_blocks=2, attention=attention).eval()
    if attention:  # a fresh gamma is 0; make the attention path count
        torch.nn.init.constant_(generator.attention.gamma, 0.5)
    x = torch.rand(2, 1, height, width) * 2 - 1
    with torch.no_grad():
        y = generator(x)
    assert y.shape == x.shape
    assert float(y.min()) >= -1.0
    assert float(y.max()) <= 1.0


def test_generator_paper_layers() -> None:
    generator = CycleGANGenerator(attention=True)
    convs = [m for m in generator.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (7, 7), (1, 1)),
        (128, (3, 3), (2, 2)),
        (256, (3, 3), (2, 2)),
    ]
    assert len(generator.residual_blocks) == 9
    assert generator.attention.query.out_channels == 256 // 8
    assert generator.attention.value.out_channels == 256
    assert generator.attention.gamma.detach().item() == 0.0
    ups = [m for m in generator.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [128, 64]
    assert isinstance(generator.decoder[-1], torch.nn.Tanh)


def test_generator_rgb_channels() -> None:
    generator = CycleGANGenerator(in_channels=3, out_channels=3, base_width=4, n_residual_blocks=1)
    assert generator(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("size", [48, 64, 96, 512])
def test_paper_discriminator_patch_map(size: int) -> None:
    discriminator = PaperDiscriminator(base_width=4).eval()
    with torch.no_grad():
        out = discriminator(torch.zeros(1, 1, size, size))
    side = size // 16 - 2
    assert out.shape == (1, 1, side, side)
    assert output_size(size) == side
    if size == 512:
        assert side == 30  # the paper's 30 x 30 map


def test_paper_discriminator_widths() -> None:
    discriminator = PaperDiscriminator()
    convs = [m for m in discriminator.layers if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6 + [1]
    assert convs[-1].padding == (0, 0)
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in discriminator.layers) == 4


@pytest.mark.parametrize(("size", "side"), [(64, 6), (256, 30)])
def test_patchgan_output(size: int, side: int) -> None:
    discriminator = PatchGANDiscriminator(base_width=4).eval()
    with torch.no_grad():
        assert discriminator(torch.zeros(1, 1, size, size)).shape == (1, 1, side, side)


@pytest.mark.parametrize(("out_channels", "depth", "size"), [(2, 4, 64), (1, 3, 32), (2, 2, 48)])
def test_unet_shapes(out_channels: int, depth: int, size: int) -> None:
    unet = UNet(out_channels=out_channels, base_width=4, depth=depth).eval()
    with torch.no_grad():
        probabilities = unet.predict_probabilities(torch.zeros(2, 1, size, size))
    assert probabilities.shape == (2, out_channels, size, size)
    assert float(probabilities.min()) >= 0.0
    assert float(probabilities.max()) <= 1.0


@pytest.mark.parametrize(("n_stages", "size"), [(4, 64), (3, 32), (2, 48)])
def test_classifier_shapes(n_stages: int, size: int) -> None:
    classifier = ClassifierNet(base_width=4, n_stages=n_stages, feature_dim=8).eval()
    x = torch.rand(3, 1, size, size) * 2 - 1
    with torch.no_grad():
        feature_map, features = classifier.forward_features(x)
        logits = classifier(x)
    side = size // 2 ** (n_stages + 1)
    assert feature_map.shape == (3, 4 * 2**n_stages, side, side)
    assert features.shape == (3, 8)
    assert logits.shape == (3,)
    assert torch.equal(classifier.logit_from_features(features), logits)


def test_classifier_input_gradients_are_finite() -> None:
    """What Grad-CAM and vanilla gradients need: finite, non-zero input and map gradients."""
    classifier = ClassifierNet(base_width=4, feature_dim=8).eval()
    x = (torch.rand(2, 1, 64, 64) * 2 - 1).requires_grad_(True)
    feature_map, features = classifier.forward_features(x)
    feature_map.retain_grad()
    logit = classifier.logit_from_features(features)
    logit.sum().backward()
    assert x.grad is not None
    assert feature_map.grad is not None
    assert bool(torch.isfinite(x.grad).all())
    assert bool(torch.isfinite(feature_map.grad).all())
    assert float(x.grad.abs().sum()) > 0.0


@pytest.mark.parametrize(
    ("cls", "kwargs", "argument"),
    [
        (UNet, {"depth": 0}, "depth"),
        (UNet, {"base_width": 2.5}, "base_width"),
        (UNet, {"out_channels": True}, "out_channels"),
        (CycleGANGenerator, {"base_width": 0}, "base_width"),
        (CycleGANGenerator, {"n_residual_blocks": -1}, "n_residual_blocks"),
        (CycleGANGenerator, {"attention": "yes"}, "attention"),
        (CycleGANGenerator, {"attention_mode": "fast"}, "attention_mode"),
        (CycleGANGenerator, {"attention_chunk_size": 0}, "attention_chunk_size"),
        (CycleGANGenerator, {"in_channels": 0}, "in_channels"),
        (CycleGANGenerator, {"norm_affine": 1}, "norm_affine"),
        (PaperDiscriminator, {"base_width": -4}, "base_width"),
        (PatchGANDiscriminator, {"n_layers": 0}, "n_layers"),
        (ClassifierNet, {"dropout": 1.0}, "dropout"),
        (ClassifierNet, {"feature_dim": 0}, "feature_dim"),
        (ClassifierNet, {"n_stages": "4"}, "n_stages"),
    ],
)
def test_bad_constructor_argument_names_itself(cls: type, kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        cls(**kwargs)


@pytest.mark.parametrize(
    ("module", "shape"),
    [
        (CycleGANGenerator(base_width=4, n_residual_blocks=1), (1, 1, 30, 32)),
        (CycleGANGenerator(base_width=4, n_residual_blocks=1), (1, 2, 32, 32)),
        (PaperDiscriminator(base_width=4), (1, 1, 40, 40)),
        (UNet(base_width=4), (1, 1, 40, 40)),
        (ClassifierNet(base_width=4), (1, 1, 32)),
    ],
)
def test_bad_input_shape_is_a_value_error(module: torch.nn.Module, shape: tuple) -> None:
    with pytest.raises(ValueError, match=r"expects|divisible"):
        module(torch.zeros(shape))


def test_registry_is_explicit_and_complete() -> None:
    assert set(ARCHITECTURES) == set(Architecture)
    for architecture, cls in ARCHITECTURES.items():
        assert architecture_of(cls()) is architecture
    assert isinstance(build_network("classifier", {"base_width": 4}), ClassifierNet)
    assert {kind.value for kind in DiscriminatorKind} == {"paper", "patchgan"}
    with pytest.raises(ValueError, match="architecture"):
        build_network("resnet50")
    with pytest.raises(ValueError, match="bad arguments"):
        build_network(Architecture.UNET, {"widht": 4})
