"""FastCpuConvTranspose2d: the sub-pixel NNPACK path equals the transposed convolution."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from torch.nn import functional

from engine.networks import fast_conv
from engine.networks.fast_conv import FastCpuConvTranspose2d, subpixel_weights

UPSAMPLING = {"stride": 2, "padding": 1, "output_padding": 1}


# Every test here starts from an undecided NNPACK state.
pytestmark = pytest.mark.usefixtures("fresh_nnpack_state")


def _pair(
    in_channels: int, out_channels: int, **kwargs: object
) -> tuple[FastCpuConvTranspose2d, nn.ConvTranspose2d]:
    torch.manual_seed(0)
    layer_kwargs = {"kernel_size": 3, **UPSAMPLING, **kwargs}
    min_pixels = layer_kwargs.pop("nnpack_min_pixels", 0)
    fast = FastCpuConvTranspose2d(
        in_channels,
        out_channels,
        nnpack_min_pixels=min_pixels,  # type: ignore[arg-type]
        **layer_kwargs,  # type: ignore[arg-type]
    )
    plain = nn.ConvTranspose2d(in_channels, out_channels, **layer_kwargs)  # type: ignore[arg-type]
    plain.load_state_dict(fast.state_dict())
    return fast, plain


@pytest.mark.parametrize("bias", [True, False])
def test_subpixel_weights_reproduce_the_transposed_convolution(bias: bool) -> None:
    """The rearrangement itself, checked with PyTorch's own convolution (no NNPACK needed)."""
    torch.manual_seed(1)
    weight = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    bias_values = torch.randn(3, dtype=torch.float64) if bias else None
    x = torch.randn(2, 5, 7, 9, dtype=torch.float64)
    expected = functional.conv_transpose2d(x, weight, bias_values, **UPSAMPLING)
    combined, combined_bias = subpixel_weights(weight, bias_values)
    assert combined.shape == (12, 5, 3, 3)
    actual = functional.pixel_shuffle(functional.conv2d(x, combined, combined_bias, padding=1), 2)
    assert actual.shape == expected.shape == (2, 3, 14, 18)
    torch.testing.assert_close(actual, expected, atol=1e-12, rtol=1e-12)
    # each output phase uses 1, 2 or 4 of the 9 transposed taps: 9 in all per channel pair
    assert int((combined != 0).sum()) == 5 * 3 * 9


@pytest.mark.usefixtures("needs_nnpack")
@pytest.mark.parametrize(("batch", "height", "width"), [(1, 16, 16), (2, 12, 20)])
def test_nnpack_path_equals_transposed_convolution(
    nnpack_calls: list[tuple[int, ...]], batch: int, height: int, width: int
) -> None:
    fast, plain = _pair(16, 8)
    x = torch.randn(batch, 16, height, width)
    with torch.no_grad():
        actual, expected = fast(x), plain(x)
    assert nnpack_calls == [tuple(x.shape)]
    assert actual.shape == expected.shape == (batch, 8, 2 * height, 2 * width)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.usefixtures("needs_nnpack")
def test_rearranged_weights_follow_parameter_changes(nnpack_calls: list[tuple[int, ...]]) -> None:
    fast, plain = _pair(4, 4)
    x = torch.randn(1, 4, 10, 10)
    with torch.no_grad():
        fast(x)
        cached = fast._subpixel_cache
        fast(x)
        assert fast._subpixel_cache is cached  # reused while the parameters stay
        fast.weight.mul_(-2.0)  # an in-place update, as an optimiser makes
        torch.testing.assert_close(
            fast(x),
            nn.functional.conv_transpose2d(x, fast.weight, fast.bias, **UPSAMPLING),
            atol=1e-4,
            rtol=1e-4,
        )
        fast.load_state_dict(plain.state_dict())
        torch.testing.assert_close(fast(x), plain(x), atol=1e-4, rtol=1e-4)
    assert len(nnpack_calls) == 4


@pytest.mark.usefixtures("needs_nnpack")
def test_small_inputs_stay_on_the_direct_path(nnpack_calls: list[tuple[int, ...]]) -> None:
    fast, plain = _pair(4, 4, nnpack_min_pixels=16 * 16)
    with torch.no_grad():
        small = torch.randn(1, 4, 15, 16)
        assert torch.equal(fast(small), plain(small))
        assert nnpack_calls == []
        fast(torch.randn(1, 4, 16, 16))
    assert nnpack_calls == [(1, 4, 16, 16)]


@pytest.mark.parametrize(
    "variant",
    [
        {"stride": 1, "padding": 1, "output_padding": 0},
        {"output_padding": 0},
        {"kernel_size": 4},
        {"groups": 2},
        {"dilation": 2},
    ],
)
def test_other_configurations_stay_on_the_direct_path(
    nnpack_calls: list[tuple[int, ...]], variant: dict[str, object]
) -> None:
    fast, plain = _pair(4, 4, **variant)
    x = torch.randn(1, 4, 10, 10)
    with torch.no_grad():
        assert torch.equal(fast(x), plain(x))
    assert nnpack_calls == []


def test_training_and_output_size_use_the_direct_path(
    nnpack_calls: list[tuple[int, ...]],
) -> None:
    fast, plain = _pair(4, 4)
    x = torch.randn(1, 4, 10, 10)
    fast(x).sum().backward()
    plain(x).sum().backward()
    assert fast.weight.grad is not None
    assert plain.weight.grad is not None
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)
    with torch.no_grad():
        assert fast(x, output_size=[19, 19]).shape == (1, 4, 19, 19)
        assert fast.double()(x.double()).dtype == torch.float64
    assert nnpack_calls == []


@pytest.mark.usefixtures("needs_nnpack")
def test_failure_falls_back_once_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    def failing(*_: object) -> torch.Tensor:
        attempts.append(1)
        raise RuntimeError("NNPACK SpatialConvolution_updateOutput failed")

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", failing)
    fast, plain = _pair(4, 4)
    x = torch.randn(1, 4, 10, 10)
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger=fast_conv.__name__):
        assert torch.equal(fast(x), plain(x))
        assert torch.equal(fast(x), plain(x))
    assert attempts == [1]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_state_dict_keys_match_plain_transposed_conv() -> None:
    fast, plain = _pair(4, 6)
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert isinstance(fast, nn.ConvTranspose2d)
