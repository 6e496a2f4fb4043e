"""Fixtures for the NNPACK-backed layers: a fresh availability decision and a call recorder."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from engine.networks import fast_conv
from engine.networks.fast_conv import ENV_SWITCH


@pytest.fixture
def needs_nnpack() -> None:
    """Skip the test where PyTorch was built without NNPACK (Windows)."""
    if not (hasattr(torch, "_nnpack_available") and torch._nnpack_available()):
        pytest.skip("PyTorch built without NNPACK (Windows)")


@pytest.fixture
def fresh_nnpack_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test decides NNPACK's availability afresh (and may not leak a disabled state)."""
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    monkeypatch.setattr(fast_conv, "_nnpack_usable", None)


@pytest.fixture
def nnpack_calls(
    monkeypatch: pytest.MonkeyPatch, fresh_nnpack_state: None
) -> list[tuple[int, ...]]:
    """Record the input shape of every NNPACK call (and still run it)."""
    calls: list[tuple[int, ...]] = []
    real: Callable[..., torch.Tensor] = torch._nnpack_spatial_convolution

    def recording(x: torch.Tensor, *args: object) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return real(x, *args)

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", recording)
    return calls
