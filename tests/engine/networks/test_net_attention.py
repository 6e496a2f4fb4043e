"""Query-chunked attention gives the naive result, forwards and backwards."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.networks import AttentionMode, CycleGANGenerator, SelfAttention2d, chunked_attention
from engine.networks.attention import naive_attention


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
    """Scores in the hundreds: most weights underflow, where the exp floor acts."""
    query, key, value = _qkv(1, 8, 16, 500, 7)
    query = query * 20.0
    with torch.no_grad():
        expected = naive_attention(query, key, value)
        actual = chunked_attention(query, key, value, chunk_size=64)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
