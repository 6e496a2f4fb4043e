"""FastCpuConv2d: NNPACK inference equals the direct convolution; everything else falls back."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from engine.networks import CycleGANGenerator, fast_conv
from engine.networks.fast_conv import ENV_SWITCH, FastCpuConv2d

# Every test here starts from an undecided NNPACK state.
pytestmark = pytest.mark.usefixtures("fresh_nnpack_state")


def _pair(
    in_channels: int, out_channels: int, kernel: int, padding: int = 0, **kwargs: int
) -> tuple[FastCpuConv2d, nn.Conv2d]:
    torch.manual_seed(0)
    fast = FastCpuConv2d(in_channels, out_channels, kernel, padding=padding, **kwargs)
    plain = nn.Conv2d(in_channels, out_channels, kernel, padding=padding)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def _relative_rms(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).pow(2).mean().sqrt() / expected.pow(2).mean().sqrt())


@pytest.mark.usefixtures("needs_nnpack")
@pytest.mark.parametrize(
    ("in_channels", "out_channels", "kernel", "padding", "size"),
    [(32, 32, 3, 0, 66), (16, 24, 3, 1, 40), (16, 1, 7, 0, 70), (3, 8, 5, 2, 33)],
)
def test_nnpack_path_equals_direct_convolution(
    nnpack_calls: list[tuple[int, ...]],
    in_channels: int,
    out_channels: int,
    kernel: int,
    padding: int,
    size: int,
) -> None:
    fast, plain = _pair(in_channels, out_channels, kernel, padding)
    x = torch.randn(2, in_channels, size, size)
    with torch.no_grad():
        actual, expected = fast(x), plain(x)
    assert nnpack_calls == [tuple(x.shape)]
    assert actual.shape == expected.shape
    assert _relative_rms(actual, expected) < 1e-5
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.usefixtures("needs_nnpack")
def test_nnpack_path_is_deterministic(nnpack_calls: list[tuple[int, ...]]) -> None:
    fast, _ = _pair(32, 32, 3)
    x = torch.randn(1, 32, 70, 70)
    with torch.no_grad():
        assert torch.equal(fast(x), fast(x))
    assert len(nnpack_calls) == 2


@pytest.mark.usefixtures("needs_nnpack")
def test_small_outputs_stay_on_the_direct_path(nnpack_calls: list[tuple[int, ...]]) -> None:
    fast, plain = _pair(8, 8, 3, nnpack_min_pixels=32 * 32)
    with torch.no_grad():
        small = torch.randn(1, 8, 33, 33)  # 31 x 31 output
        assert torch.equal(fast(small), plain(small))
        assert nnpack_calls == []
        fast(torch.randn(1, 8, 34, 34))  # 32 x 32 output
    assert nnpack_calls == [(1, 8, 34, 34)]


@pytest.mark.usefixtures("needs_nnpack")
def test_training_uses_autograd_path(nnpack_calls: list[tuple[int, ...]]) -> None:
    fast, plain = _pair(4, 4, 3)
    x = torch.randn(1, 4, 20, 20)
    fast(x).sum().backward()
    plain(x).sum().backward()
    assert nnpack_calls == []
    assert fast.weight.grad is not None
    assert plain.weight.grad is not None
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)


@pytest.mark.parametrize(
    "variant",
    [
        {"stride": 2},
        {"dilation": 2},
        {"groups": 2},
        {"padding": 1, "padding_mode": "reflect"},
    ],
)
def test_unsupported_layers_stay_on_the_direct_path(
    nnpack_calls: list[tuple[int, ...]], variant: dict[str, object]
) -> None:
    torch.manual_seed(0)
    fast = FastCpuConv2d(4, 4, 3, **variant)  # type: ignore[arg-type]
    plain = nn.Conv2d(4, 4, 3, **variant)  # type: ignore[arg-type]
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(1, 4, 24, 24)
    with torch.no_grad():
        assert torch.equal(fast(x), plain(x))
    assert nnpack_calls == []


def test_other_dtypes_stay_on_the_direct_path(nnpack_calls: list[tuple[int, ...]]) -> None:
    fast, plain = _pair(4, 4, 3)
    fast, plain = fast.double(), plain.double()
    x = torch.randn(1, 4, 24, 24, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(fast(x), plain(x))
    assert nnpack_calls == []


def test_switch_turns_nnpack_off(
    monkeypatch: pytest.MonkeyPatch, nnpack_calls: list[tuple[int, ...]]
) -> None:
    monkeypatch.setenv(ENV_SWITCH, "0")
    fast, plain = _pair(8, 8, 3)
    x = torch.randn(1, 8, 30, 30)
    with torch.no_grad():
        assert torch.equal(fast(x), plain(x))
    assert nnpack_calls == []
    assert fast_conv.nnpack_usable() is False


@pytest.mark.usefixtures("needs_nnpack")
@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("NNPACK SpatialConvolution_updateOutput failed"),
        TypeError("_nnpack_spatial_convolution() takes 4 positional arguments"),  # API change
    ],
)
def test_failure_falls_back_once_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    attempts: list[int] = []

    def failing(*_: object) -> torch.Tensor:
        attempts.append(1)
        raise error

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", failing)
    fast, plain = _pair(8, 8, 3)
    x = torch.randn(1, 8, 30, 30)
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger=fast_conv.__name__):
        assert torch.equal(fast(x), plain(x))
        assert torch.equal(fast(x), plain(x))
    assert attempts == [1]  # turned off after the first failure
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "default path" in caplog.records[0].getMessage()


def test_state_dict_keys_match_plain_conv() -> None:
    fast, plain = _pair(4, 6, 3)
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert isinstance(fast, nn.Conv2d)


@pytest.mark.usefixtures("needs_nnpack")
def test_generator_output_matches_direct_path(
    monkeypatch: pytest.MonkeyPatch, nnpack_calls: list[tuple[int, ...]]
) -> None:
    """Residual convolutions at a 64 x 64 bottleneck, the upsampling layer from 128 x 128 and the
    final 7x7 run on NNPACK."""
    torch.manual_seed(0)
    generator = CycleGANGenerator(base_width=4, n_residual_blocks=2).eval()
    torch.nn.init.constant_(generator.attention.gamma, 0.5)
    x = torch.rand(1, 1, 256, 256) * 2 - 1
    with torch.no_grad():
        fast = generator(x)
    # 2 blocks x 2 convolutions at the 64 x 64 bottleneck (66 x 66 padded), the second
    # upsampling layer (the first one's 64 x 64 input is below its threshold), the output layer
    assert nnpack_calls == [(1, 16, 66, 66)] * 4 + [(1, 8, 128, 128), (1, 4, 262, 262)]
    monkeypatch.setenv(ENV_SWITCH, "0")
    monkeypatch.setattr(fast_conv, "_nnpack_usable", None)
    with torch.no_grad():
        direct = generator(x)
    assert len(nnpack_calls) == 6
    torch.testing.assert_close(fast, direct, atol=1e-5, rtol=1e-4)
