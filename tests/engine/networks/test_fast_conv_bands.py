"""NNPACK layers computed in row bands give the whole layer's output, with one call per band."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional

from engine.networks import CycleGANGenerator, fast_conv
from engine.networks.fast_conv import ENV_SWITCH, FastCpuConv2d, FastCpuConvTranspose2d

pytestmark = pytest.mark.usefixtures("fresh_nnpack_state")


@pytest.fixture
def reference_bands(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Every "NNPACK" call is PyTorch's own float64 convolution (the band geometry is then exact
    up to float64 rounding, and the test needs no NNPACK); records the input shapes."""
    calls: list[tuple[int, ...]] = []

    def convolution(
        x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: list[int]
    ) -> torch.Tensor:
        calls.append(tuple(x.shape))
        result = functional.conv2d(
            x.double(), weight.double(), None if bias is None else bias.double(), padding=padding
        )
        return result.float()

    monkeypatch.setattr(fast_conv, "_nnpack_convolution", convolution)
    monkeypatch.setattr(fast_conv, "_nnpack_usable", True)
    return calls


def _conv_pair(kernel: int, padding: int, band_pixels: int) -> tuple[FastCpuConv2d, nn.Conv2d]:
    torch.manual_seed(0)
    fast = FastCpuConv2d(3, 4, kernel, padding=padding, nnpack_band_pixels=band_pixels)
    plain = nn.Conv2d(3, 4, kernel, padding=padding)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def _expected_conv(plain: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return plain.double()(x.double()).float()


@pytest.mark.parametrize(
    ("kernel", "padding", "rows_per_band"),
    [(7, 0, 1), (7, 0, 5), (3, 1, 1), (3, 1, 4), (5, 2, 3), (3, 0, 7), (7, 3, 6)],
)
def test_banded_convolution_equals_the_whole_one(
    reference_bands: list[tuple[int, ...]], kernel: int, padding: int, rows_per_band: int
) -> None:
    x = torch.randn(2, 3, 23, 17)
    out_rows = 23 + 2 * padding - kernel + 1
    out_width = 17 + 2 * padding - kernel + 1
    fast, plain = _conv_pair(kernel, padding, band_pixels=rows_per_band * out_width)
    with torch.no_grad():
        actual = fast(x)
    expected = _expected_conv(plain, x)
    assert actual.shape == expected.shape == (2, 4, out_rows, out_width)
    assert len(reference_bands) == -(-out_rows // rows_per_band)  # one call per band
    assert all(shape[2] <= rows_per_band + kernel - 1 for shape in reference_bands)
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("band_pixels", [0, 10**9])
def test_one_band_is_one_call(reference_bands: list[tuple[int, ...]], band_pixels: int) -> None:
    fast, plain = _conv_pair(3, 1, band_pixels)
    x = torch.randn(1, 3, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), _expected_conv(plain, x), atol=1e-6, rtol=1e-6)
    assert reference_bands == [(1, 3, 20, 20)]


@pytest.mark.parametrize(("rows", "rows_per_band"), [(9, 1), (9, 2), (9, 4), (10, 3), (1, 1)])
def test_banded_transposed_convolution_equals_the_whole_one(
    reference_bands: list[tuple[int, ...]], rows: int, rows_per_band: int
) -> None:
    torch.manual_seed(2)
    layout = {"kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}
    width = 6
    # band_pixels counts output pixels: two output rows of twice the width per input row
    band_pixels = rows_per_band * 2 * (2 * width)
    fast = FastCpuConvTranspose2d(3, 5, nnpack_band_pixels=band_pixels, **layout)  # type: ignore[arg-type]
    plain = nn.ConvTranspose2d(3, 5, **layout).double()  # type: ignore[arg-type]
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(2, 3, rows, width)
    with torch.no_grad():
        actual = fast(x)
        expected = plain(x.double()).float()
    assert actual.shape == expected.shape == (2, 5, 2 * rows, 2 * width)
    assert len(reference_bands) == -(-rows // rows_per_band)
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("layer_kind", ["conv", "transposed"])
def test_failure_in_a_later_band_falls_back_to_the_whole_layer(
    monkeypatch: pytest.MonkeyPatch, layer_kind: str
) -> None:
    calls: list[int] = []

    def second_call_fails(
        x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: list[int]
    ) -> torch.Tensor | None:
        calls.append(1)
        return functional.conv2d(x, weight, bias, padding=padding) if len(calls) == 1 else None

    monkeypatch.setattr(fast_conv, "_nnpack_convolution", second_call_fails)
    monkeypatch.setattr(fast_conv, "_nnpack_usable", True)
    torch.manual_seed(3)
    layer: nn.Module
    if layer_kind == "conv":
        layer = FastCpuConv2d(2, 3, 3, padding=1, nnpack_band_pixels=16)
        plain: nn.Module = nn.Conv2d(2, 3, 3, padding=1)
    else:
        layout = {"kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}
        layer = FastCpuConvTranspose2d(2, 3, nnpack_band_pixels=32, **layout)  # type: ignore[arg-type]
        plain = nn.ConvTranspose2d(2, 3, **layout)  # type: ignore[arg-type]
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(1, 2, 16, 16)
    with torch.no_grad():
        assert torch.equal(layer(x), plain(x))
    assert len(calls) == 2  # the first band ran, the second failed: the whole layer fell back


@pytest.mark.usefixtures("needs_nnpack")
def test_generator_at_512_runs_its_decoder_in_bands(
    monkeypatch: pytest.MonkeyPatch, nnpack_calls: list[tuple[int, ...]]
) -> None:
    """At 512 the last upsampling layer and the output convolution take four bands each, on
    NNPACK itself, and the image equals the direct path's."""
    torch.manual_seed(0)
    generator = CycleGANGenerator(base_width=2, n_residual_blocks=1, attention=False).eval()
    x = torch.rand(1, 1, 512, 512) * 2 - 1
    with torch.no_grad():
        banded = generator(x)
    # residual 3x3 at the 128 x 128 bottleneck (2), the first upsampling layer (one band: its
    # output is 256 x 256), the last one in 4 bands of 64 input rows plus halo, the output
    # convolution in 4 bands of 128 output rows plus its 6-row halo.
    last_upsampling = [(1, 4, 65, 256), (1, 4, 66, 256), (1, 4, 66, 256), (1, 4, 65, 256)]
    output_convolution = [(1, 2, 134, 518)] * 4
    assert nnpack_calls == [(1, 8, 130, 130)] * 2 + [(1, 8, 128, 128)] + (
        last_upsampling + output_convolution
    )
    monkeypatch.setenv(ENV_SWITCH, "0")
    monkeypatch.setattr(fast_conv, "_nnpack_usable", None)
    with torch.no_grad():
        direct = generator(x)
    # NNPACK and the direct kernel sum in other orders; over the generator's layers that reaches
    # 1.1e-5 on an AMD EPYC (outputs in [-1, 1]). A misplaced band or halo is off by ~0.1.
    torch.testing.assert_close(banded, direct, atol=5e-5, rtol=1e-4)
