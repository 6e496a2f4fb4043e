"""The decoder's upsampling: the paper's transposed convolution, or resize + convolution."""

from __future__ import annotations

import pytest
import torch

from engine.networks import (
    Architecture,
    ConstrainedGenerator,
    CycleGANGenerator,
    Upsampling,
    build_network,
)


@pytest.mark.parametrize("kind", list(Upsampling))
def test_both_forms_keep_the_shape_contract(kind: Upsampling) -> None:
    torch.manual_seed(0)
    network = CycleGANGenerator(base_width=4, n_residual_blocks=1, upsampling=kind).eval()
    x = torch.rand(2, 1, 24, 32) * 2 - 1
    with torch.no_grad():
        y = network(x)
    assert y.shape == x.shape
    assert float(y.abs().max()) <= 1.0


def _first_upsampling_of(kind: Upsampling) -> torch.nn.Module:
    network = CycleGANGenerator(base_width=4, n_residual_blocks=0, upsampling=kind)
    layer = network.decoder[0]
    for parameter in layer.parameters():
        torch.nn.init.constant_(parameter, 0.0)
        if parameter.dim() == 4:
            torch.nn.init.constant_(parameter, 1.0)
    return layer.eval()


def test_only_the_transposed_form_draws_a_pattern_on_a_flat_input() -> None:
    """Why ``resize`` exists: a stride-2 transposed convolution with uniform weights turns a
    constant feature map into a 2-pixel checkerboard; resize + convolution keeps it flat."""
    flat = torch.ones(1, 16, 8, 8)
    with torch.no_grad():
        transposed = _first_upsampling_of(Upsampling.TRANSPOSE)(flat)[0, 0, 2:-2, 2:-2]
        resized = _first_upsampling_of(Upsampling.RESIZE)(flat)[0, 0, 2:-2, 2:-2]
    assert float(transposed.max() - transposed.min()) > 0.5 * float(transposed.mean())
    assert float(resized.max() - resized.min()) < 1e-4 * float(resized.mean())


def test_the_constrained_generator_passes_it_on_and_bundles_rebuild_it() -> None:
    network = ConstrainedGenerator(base_width=4, n_residual_blocks=1, upsampling="resize")
    assert isinstance(network.body.decoder[0], torch.nn.Sequential)
    rebuilt = build_network(
        Architecture.CONSTRAINED_GENERATOR,
        {"base_width": 4, "n_residual_blocks": 1, "upsampling": "resize"},
    )
    assert rebuilt.state_dict().keys() == network.state_dict().keys()
    with pytest.raises(ValueError, match="upsampling"):
        CycleGANGenerator(base_width=4, upsampling="bilinear-ish")


def test_a_classifier_decision_offset_moves_every_logit_by_itself() -> None:
    from engine.networks import ClassifierNet

    torch.manual_seed(0)
    plain = ClassifierNet(base_width=4, n_stages=2, feature_dim=8).eval()
    shifted = ClassifierNet(base_width=4, n_stages=2, feature_dim=8, decision_offset=-2.5).eval()
    shifted.load_state_dict(plain.state_dict())  # the offset is not a weight
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(shifted(x), plain(x) + 2.5)
    with pytest.raises(ValueError, match="decision_offset"):
        ClassifierNet(decision_offset=float("nan"))
