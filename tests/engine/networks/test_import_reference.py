"""Importing the reference CycleGAN ResnetGenerator: every tensor mapped, same output."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from engine.errors import ModelError
from engine.models import load_bundle
from engine.models.import_reference import (
    import_reference_cyclegan_generator,
    map_reference_state,
    reference_key_map,
)
from engine.networks import Architecture


class _ReferenceBlock(nn.Module):
    """The reference ``ResnetBlock`` (reflect padding, InstanceNorm, no dropout)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class _ReferenceGenerator(nn.Module):
    """Re-creation of the reference ``ResnetGenerator`` layer list (``self.model``)."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int, n_blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, 7, bias=True),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=True),
                nn.InstanceNorm2d(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [_ReferenceBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1
                ),
                nn.InstanceNorm2d(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _reference(channels: int, ngf: int = 4, n_blocks: int = 9) -> _ReferenceGenerator:
    torch.manual_seed(3)
    return _ReferenceGenerator(channels, channels, ngf, n_blocks).eval()


def test_reference_layout_is_the_documented_one() -> None:
    keys = set(_reference(1).state_dict())
    assert {"model.1.weight", "model.10.conv_block.1.weight", "model.18.conv_block.5.bias"} <= keys
    assert {"model.19.weight", "model.22.weight", "model.26.weight", "model.26.bias"} <= keys
    assert keys == set(reference_key_map(9))  # every tensor has a mapping, and no more


@pytest.mark.parametrize(("channels", "n_blocks"), [(1, 9), (3, 9), (1, 6)])
def test_import_maps_every_tensor_and_matches_output(
    tmp_path: Path, channels: int, n_blocks: int
) -> None:
    reference = _reference(channels, n_blocks=n_blocks)
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(reference.state_dict(), path)
    mapped, kwargs = map_reference_state(reference.state_dict())
    assert len(mapped) == len(reference.state_dict())
    assert kwargs["attention"] is False
    assert kwargs["n_residual_blocks"] == n_blocks
    bundle = import_reference_cyclegan_generator(path, tmp_path / "models", "reference-g-a")
    loaded = load_bundle(bundle, expected_architecture=Architecture.GENERATOR)
    assert loaded.config.training["imported_from"] == "latest_net_G_A.pth"
    x = torch.rand(2, channels, 32, 48) * 2 - 1
    with torch.no_grad():
        # Same weights, different float32 kernels (our InstanceNorm runs PyTorch's group-norm
        # kernel): rounding differences of ~1e-6 after 20 normalisations; a wrongly mapped tensor
        # moves outputs by 1e-2 and more.
        torch.testing.assert_close(loaded.module(x), reference(x), atol=1e-5, rtol=1e-5)


def test_old_instance_norm_buffers_are_dropped() -> None:
    state = dict(_reference(1).state_dict())
    state["model.2.running_mean"] = torch.zeros(4)
    state["model.2.running_var"] = torch.ones(4)
    mapped, _ = map_reference_state(state)
    assert len(mapped) == len(state) - 2


def test_unknown_tensor_and_batchnorm_are_refused() -> None:
    state = dict(_reference(1).state_dict())
    state["model.99.weight"] = torch.zeros(1)
    with pytest.raises(ModelError, match="no counterpart"):
        map_reference_state(state)
    del state["model.99.weight"], state["model.1.bias"]
    with pytest.raises(ModelError, match="BatchNorm"):
        map_reference_state(state)
    with pytest.raises(ModelError, match="not a reference"):
        map_reference_state({"weight": torch.zeros(1)})


def test_pickled_objects_are_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple:
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pth"
    torch.save({"model.1.weight": Payload()}, path)
    with pytest.raises(ModelError, match="weights-only"):
        import_reference_cyclegan_generator(path, tmp_path / "models", "evil")
    assert not marker.exists()
