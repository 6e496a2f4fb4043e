"""InstanceNorm2d: the group-norm path equals nn.InstanceNorm2d, forward and backward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.networks import instance_norm
from engine.networks.instance_norm import InstanceNorm2d


@pytest.fixture
def group_norm_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Record the input shape of every group-norm call the layer makes (and still run it)."""
    calls: list[tuple[int, ...]] = []
    real = instance_norm.functional.group_norm

    def recording(x: torch.Tensor, *args: object) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return real(x, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(instance_norm.functional, "group_norm", recording)
    return calls


def _pair(channels: int, **kwargs: bool) -> tuple[InstanceNorm2d, nn.InstanceNorm2d]:
    fast, plain = InstanceNorm2d(channels, **kwargs), nn.InstanceNorm2d(channels, **kwargs)
    if fast.affine:
        torch.manual_seed(3)
        with torch.no_grad():
            fast.weight.uniform_(0.5, 2.0)
            fast.bias.uniform_(-1.0, 1.0)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize(
    ("shape", "offset", "tolerance"),
    [
        ((1, 8, 16, 16), 0.0, 1e-5),
        # a mean up to ~250 standard deviations: float32 itself loses ~1e-4 of the largest value
        ((3, 5, 7, 9), 50.0, 2e-4),
    ],
)
def test_forward_and_backward_equal_instance_norm(
    group_norm_calls: list[tuple[int, ...]],
    affine: bool,
    shape: tuple[int, int, int, int],
    offset: float,
    tolerance: float,
) -> None:
    fast, plain = _pair(shape[1], affine=affine)
    exact = nn.InstanceNorm2d(shape[1], affine=affine).double()
    exact.load_state_dict(fast.state_dict())
    torch.manual_seed(0)
    data = torch.randn(shape) * torch.rand(1, shape[1], 1, 1) * 4 + offset
    upstream = torch.randn(shape)
    inputs = [data.clone().requires_grad_(), data.double().requires_grad_()]
    outputs = [fast(inputs[0]), exact(inputs[1])]
    assert group_norm_calls == [shape]

    def assert_close(actual: torch.Tensor | None, expected: torch.Tensor | None) -> None:
        """Within ``tolerance`` of the largest exact value (float64 reference)."""
        assert actual is not None
        assert expected is not None
        atol = tolerance * float(expected.detach().abs().max())
        torch.testing.assert_close(actual.detach().double(), expected.detach(), atol=atol, rtol=0)

    with torch.no_grad():
        assert_close(plain(data), outputs[1])  # the tolerance is what float32 itself reaches
    assert_close(outputs[0], outputs[1])
    outputs[0].backward(upstream)
    outputs[1].backward(upstream.double())
    assert_close(inputs[0].grad, inputs[1].grad)
    if affine:
        for name in ("weight", "bias"):
            assert_close(getattr(fast, name).grad, getattr(exact, name).grad)


def test_running_statistics_keep_the_instance_norm_path(
    group_norm_calls: list[tuple[int, ...]],
) -> None:
    fast, plain = _pair(4, track_running_stats=True)
    x = torch.randn(2, 4, 6, 6) + 3
    torch.testing.assert_close(fast(x), plain(x))  # training: both update their statistics
    torch.testing.assert_close(fast.running_mean, plain.running_mean)
    fast.eval()
    plain.eval()
    torch.testing.assert_close(fast(x), plain(x))  # eval: normalised by the running statistics
    assert group_norm_calls == []


def test_unbatched_and_mismatched_input_behave_as_instance_norm(
    group_norm_calls: list[tuple[int, ...]],
) -> None:
    fast, plain = _pair(4)
    unbatched = torch.randn(4, 6, 6)
    torch.testing.assert_close(fast(unbatched), plain(unbatched))
    affine_fast, _ = _pair(4, affine=True)
    with pytest.raises(ValueError, match="expected input's size at dim=1 to match num_features"):
        affine_fast(torch.randn(1, 3, 6, 6))
    assert group_norm_calls == []


def test_state_dict_keys_match_instance_norm() -> None:
    for affine in (False, True):
        fast, plain = _pair(4, affine=affine)
        assert list(fast.state_dict()) == list(plain.state_dict())
        assert isinstance(fast, nn.InstanceNorm2d)
