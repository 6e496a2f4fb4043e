"""One optimiser step lowers the loss on a tiny batch (the networks can learn)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from engine.networks import ClassifierNet, UNet


def _one_step(model: torch.nn.Module, loss: Callable[[], torch.Tensor]) -> tuple[float, float]:
    """Loss before and after one Adam step, both in train mode (batch statistics, no dropout)."""
    model.train()
    with torch.no_grad():
        before = float(loss())
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    value = loss()
    optimiser.zero_grad()
    value.backward()
    optimiser.step()
    with torch.no_grad():
        after = float(loss())
    return before, after


def test_classifier_step_lowers_loss() -> None:
    torch.manual_seed(0)
    model = ClassifierNet(base_width=4, n_stages=3, feature_dim=8, dropout=0.0)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    target = torch.tensor([0.0, 1.0, 0.0, 1.0])
    before, after = _one_step(model, lambda: F.binary_cross_entropy_with_logits(model(x), target))
    assert after < before


def test_unet_step_lowers_loss() -> None:
    torch.manual_seed(0)
    model = UNet(base_width=4, depth=2, out_channels=2)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    target = (torch.rand(2, 2, 32, 32) > 0.5).float()
    before, after = _one_step(model, lambda: F.binary_cross_entropy_with_logits(model(x), target))
    assert after < before
