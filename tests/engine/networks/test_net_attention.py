"""Query-chunked attention gives the naive result, forwards and backwards."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.networks import AttentionMode, CycleGANGenerator, SelfAttention2d, chunked_attention
from engine.networks.attention import SCORE_SPAN, floored_softmax, naive_attention

SMALLEST_NORMAL = torch.finfo(torch.float32).tiny


def _qkv(batch: int, d: int, c: int, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, width, n, generator=generator) for width in (d, d, c))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 300),
    chunk=st.integers(1, 128),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_chunked_equals_naive(n: int, chunk: int, batch: int, seed: int) -> None:
    query, key, value = _qkv(batch, 4, 16, n, seed)
    with torch.no_grad():
        expected = naive_attention(query, key, value)
        actual = chunked_attention(query, key, value, chunk_size=chunk)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_chunked_gradients_equal_naive() -> None:
    tensors = [t.requires_grad_(True) for t in _qkv(2, 4, 8, 100, 1)]
    naive_attention(*tensors).square().sum().backward()
    expected = [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    chunked_attention(*tensors, chunk_size=16).square().sum().backward()
    for t, grad in zip(tensors, expected, strict=True):
        torch.testing.assert_close(t.grad, grad, atol=1e-5, rtol=1e-5)


def test_fresh_attention_layer_is_identity() -> None:
    layer = SelfAttention2d(16)
    x = torch.randn(1, 16, 8, 8)
    assert torch.equal(layer(x), x)


def test_generator_modes_agree() -> None:
    torch.manual_seed(0)
    chunked = CycleGANGenerator(base_width=8, n_residual_blocks=1, attention_chunk_size=16)
    torch.nn.init.constant_(chunked.attention.gamma, 1.0)
    naive = CycleGANGenerator(base_width=8, n_residual_blocks=1, attention_mode=AttentionMode.NAIVE)
    naive.load_state_dict(chunked.state_dict())
    x = torch.rand(1, 1, 32, 48) * 2 - 1  # 8 x 12 = 96 bottleneck tokens, 6 chunks
    with torch.no_grad():
        torch.testing.assert_close(chunked(x), naive(x), atol=1e-5, rtol=1e-5)


def test_bad_chunk_size() -> None:
    query, key, value = _qkv(1, 2, 2, 4, 0)
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_attention(query, key, value, chunk_size=0)


def test_chunked_equals_naive_with_large_scores() -> None:
    """Scores in the hundreds: most weights underflow, where the score floor acts."""
    query, key, value = _qkv(1, 8, 16, 500, 7)
    query = query * 20.0
    with torch.no_grad():
        expected = naive_attention(query, key, value)
        actual = chunked_attention(query, key, value, chunk_size=64)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
    # Both use the floored softmax: a float64 softmax of the same float32 scores (whose rounding
    # alone moves weights by 5e-5 at this scale) tells whether the floor is harmless.
    scores = torch.bmm(query.transpose(1, 2), key).double()
    exact = value.double() @ torch.softmax(scores, dim=-1).transpose(1, 2)
    torch.testing.assert_close(actual.double(), exact, atol=1e-5, rtol=1e-5)


def _wide_scores(seed: int) -> torch.Tensor:
    """Rows of scores spread over +-1000, so most max-shifted scores lie far below -87."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(2, 7, 3000, generator=generator) * 400.0


@pytest.mark.parametrize("grad", [False, True])
def test_floored_softmax_has_no_subnormal_weights(grad: bool) -> None:
    """Subnormal weights make the value product 160x slower on Intel Xeons; none may reach it."""
    scores = _wide_scores(3).requires_grad_(grad)
    reference = torch.softmax(scores.detach().double(), dim=-1)
    assert ((reference > 0) & (reference < SMALLEST_NORMAL)).any()  # the case being guarded
    with torch.set_grad_enabled(grad):
        weights = floored_softmax(scores.clone() if not grad else scores)
    assert weights.min() >= SMALLEST_NORMAL
    assert weights.min() <= torch.exp(torch.tensor(-SCORE_SPAN))  # far scores were only raised
    torch.testing.assert_close(weights.double(), reference, atol=1e-7, rtol=1e-5)


def test_floored_softmax_in_place_only_without_grad() -> None:
    scores = _wide_scores(4)
    original = scores.clone()
    with torch.no_grad():
        inference = floored_softmax(scores)
    assert not torch.equal(scores, original)  # the scratch block was overwritten
    differentiable = original.clone().requires_grad_(True)
    training = floored_softmax(differentiable)
    assert torch.equal(differentiable.detach(), original)
    torch.testing.assert_close(training.detach(), inference, atol=0.0, rtol=0.0)


def test_floored_softmax_gradient_matches_float64_softmax() -> None:
    scores = (_wide_scores(5)[:, :, :200] / 40.0).requires_grad_(True)
    upstream = torch.randn(scores.shape, generator=torch.Generator().manual_seed(6))
    (floored_softmax(scores) * upstream).sum().backward()
    reference = scores.detach().double().requires_grad_(True)
    (torch.softmax(reference, dim=-1) * upstream.double()).sum().backward()
    torch.testing.assert_close(scores.grad.double(), reference.grad, atol=1e-6, rtol=1e-5)
