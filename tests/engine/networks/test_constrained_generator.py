"""The constrained generator: a change inside the lung field only, never on the keep mask."""

from __future__ import annotations

import pytest
import torch

from engine.networks import Architecture, ConstrainedGenerator, architecture_of, build_network


def _lung_field_batch(seed: int = 0) -> torch.Tensor:
    """Two 32 x 32 lung-field inputs: background -1 outside an ellipse, texture inside."""
    generator = torch.Generator().manual_seed(seed)
    rows, columns = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    inside = ((rows - 16) / 12) ** 2 + ((columns - 14) / 9) ** 2 < 1
    texture = torch.rand(2, 1, 32, 32, generator=generator) * 1.6 - 0.8
    return torch.where(inside, texture, torch.tensor(-1.0))


@pytest.fixture
def network() -> ConstrainedGenerator:
    """A generator whose last layer is no longer zero (as after some training)."""
    torch.manual_seed(0)
    built = ConstrainedGenerator(base_width=4, n_residual_blocks=1, max_change=0.5).eval()
    torch.nn.init.normal_(built.body.decoder[-2].weight, std=0.1)
    return built


def test_a_new_generator_is_the_identity() -> None:
    x = _lung_field_batch(3)
    with torch.no_grad():
        assert torch.equal(ConstrainedGenerator(base_width=4, n_residual_blocks=1)(x), x)


def test_nothing_outside_the_lung_field_changes(network: ConstrainedGenerator) -> None:
    x = _lung_field_batch()
    with torch.no_grad():
        out = network(x)
    outside = x == -1.0
    assert torch.equal(out[outside], x[outside])  # exactly, whatever the weights
    assert (out[~outside] != x[~outside]).any()  # and the network does change the lungs


def test_a_keep_mask_pixel_never_changes(network: ConstrainedGenerator) -> None:
    x = _lung_field_batch(1)
    keep = torch.zeros_like(x)
    keep[..., 10:20, 12:16] = 1.0  # a "device" across the lung field
    with torch.no_grad():
        out = network(x, keep)
    kept = keep.bool()
    assert torch.equal(out[kept], x[kept])
    assert (out[~kept & (x > -1)] != x[~kept & (x > -1)]).any()


def test_an_edit_margin_keeps_the_lung_fields_edge(network: ConstrainedGenerator) -> None:
    """With ``edit_margin`` m, no pixel within m of the background changes (a square
    neighbourhood), and the rest of the field still does."""
    x = _lung_field_batch(5)
    margin = ConstrainedGenerator(
        base_width=4, n_residual_blocks=1, max_change=0.5, edit_margin=2
    ).eval()
    margin.load_state_dict(network.state_dict())
    with torch.no_grad():
        out = margin(x)
    background = (x == -1.0).float()
    near_edge = torch.nn.functional.max_pool2d(background, 5, stride=1, padding=2) > 0
    assert torch.equal(out[near_edge], x[near_edge])
    assert (out[~near_edge] != x[~near_edge]).any()
    assert int((~near_edge).sum()) < int((x > -1.0).sum())  # the band is not empty
    with torch.no_grad():  # the same weights without the margin do change that band
        band = near_edge & (x > -1.0)
        assert (network(x)[band] != x[band]).any()
    for wrong in (-1, 1.5, True):
        with pytest.raises(ValueError, match="edit_margin"):
            ConstrainedGenerator(base_width=4, edit_margin=wrong)


def test_the_change_is_bounded_and_carries_gradients(network: ConstrainedGenerator) -> None:
    x = _lung_field_batch(2)
    change = network.change(x)
    assert float(change.detach().abs().max()) <= 0.5 + 1e-6
    change.abs().mean().backward()  # the sparsity term reaches the weights
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters())


@pytest.mark.parametrize("sign", [1, -1])
def test_a_fixed_sign_changes_one_way_only(sign: int) -> None:
    """With ``sign`` the change never has the other sign, whatever the weights; a new generator
    changes the lungs by about 2 % of max_change, and the change carries gradients."""
    x = _lung_field_batch(4)
    torch.manual_seed(1)
    network = ConstrainedGenerator(base_width=4, n_residual_blocks=1, max_change=0.5, sign=sign)
    with torch.no_grad():
        start = network.change(x)
    assert float(start.abs().max()) < 0.02 * 0.5
    torch.nn.init.normal_(network.body.decoder[-2].weight, std=0.5)
    change = network.change(x)
    inside = x > -1.0
    assert bool((sign * change[inside] >= 0).all())
    assert float(change.detach().abs().max()) > 0.1  # it does change, up to max_change
    change.abs().mean().backward()
    assert network.body.decoder[-2].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="sign"):
        ConstrainedGenerator(base_width=4, sign=2)


def test_registered_and_checked() -> None:
    built = build_network(
        Architecture.CONSTRAINED_GENERATOR, {"base_width": 4, "n_residual_blocks": 1}
    )
    assert architecture_of(built) is Architecture.CONSTRAINED_GENERATOR
    with pytest.raises(ValueError, match="max_change"):
        ConstrainedGenerator(base_width=4, max_change=3.0)
    # The body is the paper's generator: its keys start the constrained one.
    assert all(key.startswith("body.") for key in built.state_dict())
