"""SAGAN self-attention with query-chunked (memory-efficient) evaluation.

At the generator bottleneck of a 512 x 512 input there are ``N = 128 * 128 = 16384`` tokens. The
naive attention matrix is ``N x N`` = 1 GiB in fp32, and the softmax makes a second copy. Query
chunking computes the same result one block of ``chunk_size`` query rows at a time, so the extra
memory is two ``chunk_size x N`` blocks, scores and weights (16 MiB for the default 128 rows at
512). Small blocks are also faster: a 128 x 16384 block stays in the CPU's cache through the score
product, the softmax and the value product, while a 1024-row block (64 MiB) goes to memory and back
for each step (benchmarks/bench_generator.py; figures in docs/benchmarks.md, "Measurements
behind choices in the code"). Every row of the softmax only depends on its own query, so the
chunked result is the naive one up to float summation order.

``torch.nn.functional.scaled_dot_product_attention`` is not used: with query/key width ``C/8`` and
value width ``C`` it falls back to its math path on CPU, which materialises the full matrix.
"""

from __future__ import annotations

from enum import StrEnum

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from engine.networks._checks import choice, positive_int

DEFAULT_CHUNK_SIZE = 128
#: Scores further than this below their row's maximum are raised to ``maximum - SCORE_SPAN`` before
#: the softmax, so that every weight is at least ``exp(-40) / N``: a normal float32 for any N below
#: 1e20, and the weights and their products never are subnormal numbers (see ``floored_softmax``).
SCORE_SPAN = 40.0


class AttentionMode(StrEnum):
    """How the attention matrix is evaluated (same result, different peak memory)."""

    CHUNKED = "chunked"  # query rows in blocks: extra memory chunk_size x N
    NAIVE = "naive"  # the full N x N matrix at once (reference; benchmarks and tests)


def naive_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Reference attention without scaling, building the full ``N x N`` matrix.

    The softmax is :func:`floored_softmax`, as in the chunked path (plain ``torch.softmax`` runs
    into subnormal weights, far slower on some CPUs; the floor changes a result by less than
    ``N * 4.2e-18`` relative).

    Shapes (channels first, as the 1x1 convolutions give them):
    ``query`` ``(B, D, N)``, ``key`` ``(B, D, N)``, ``value`` ``(B, C, N)`` -> ``(B, C, N)`` with
    ``out[b, :, j] = sum_i softmax_i(query[b, :, j] . key[b, :, i]) * value[b, :, i]``.
    """
    scores = torch.bmm(query.transpose(1, 2), key)  # (B, N_query, N_key)
    return torch.bmm(value, floored_softmax(scores).transpose(1, 2))


def floored_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, each score first raised to its row maximum - ``SCORE_SPAN``.

    SAGAN's scores are unscaled, so most weights of a row lie many orders below its maximum, and
    ``exp`` of a max-shifted score below -87 is a subnormal number. Arithmetic on subnormals is
    slow on many CPUs: on an Intel Xeon the value product with subnormal weights ran two orders
    of magnitude slower than with normal ones (docs/benchmarks.md). The floor keeps each weight at
    or above
    ``exp(-SCORE_SPAN) / N``, a normal number. A raised weight grows by less than
    ``exp(-SCORE_SPAN)`` = 4.2e-18 against a row sum of at least 1, so a row changes by less than
    ``N * 4.2e-18`` relative (7e-14 at N = 16384), far below float32 resolution.

    Without autograd ``scores`` is overwritten (it is a scratch block); with autograd the floor is
    a constant, so no gradient flows into it.
    """
    if torch.is_grad_enabled() and scores.requires_grad:
        floor = scores.amax(dim=-1, keepdim=True).detach() - SCORE_SPAN
        return torch.softmax(torch.maximum(scores, floor), dim=-1)
    # One pass for the row maxima and one for the floor, then PyTorch's fused softmax kernel.
    floor = scores.amax(dim=-1, keepdim=True).sub_(SCORE_SPAN)
    return torch.softmax(torch.maximum(scores, floor, out=scores), dim=-1)


def _attention_block(
    query_block: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> torch.Tensor:
    """One block of query rows: ``(B, D, n)``, ``(B, D, N)``, ``(B, C, N)`` -> ``(B, C, n)``."""
    scores = torch.bmm(query_block.transpose(1, 2), key)  # (B, n, N)
    weights = floored_softmax(scores)
    return torch.bmm(value, weights.transpose(1, 2))


def chunked_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> torch.Tensor:
    """The same result as :func:`naive_attention`, evaluated ``chunk_size`` query rows at a time.

    Shapes as in :func:`naive_attention`. Peak extra memory is two ``(B, chunk_size, N)`` blocks.
    When gradients are needed each block is recomputed in the backward pass (activation
    checkpointing), so training memory stays at one block as well.
    """
    positive_int("chunk_size", chunk_size)
    n_query = query.shape[-1]
    if n_query <= chunk_size:
        return _attention_block(query, key, value)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
    blocks: list[torch.Tensor] = []
    out = None if needs_grad else value.new_empty(value.shape[0], value.shape[1], n_query)
    for start in range(0, n_query, chunk_size):
        query_block = query[:, :, start : start + chunk_size]
        if out is None:
            block = checkpoint(_attention_block, query_block, key, value, use_reentrant=False)
            blocks.append(block)
        else:
            out[:, :, start : start + chunk_size] = _attention_block(query_block, key, value)
    return torch.cat(blocks, dim=-1) if out is None else out


class SelfAttention2d(nn.Module):
    """SAGAN self-attention layer (Zhang et al. 2019) with a residual, zero-initialised gain.

    ``y = gamma * attention(f(x), g(x), h(x)) + x`` where ``f``, ``g`` are 1x1 convolutions to
    ``channels // key_reduction`` (query / key), ``h`` a 1x1 convolution to ``channels`` (value) and
    ``gamma`` a learnable scalar initialised to 0, so a fresh layer is the identity. As in SAGAN the
    scores are not scaled by ``1/sqrt(d)``.

    Shapes: ``(B, channels, H, W) -> (B, channels, H, W)``.

    Args:
        channels: input and output channels (>= ``key_reduction``).
        key_reduction: query/key width is ``channels // key_reduction`` (SAGAN: 8).
        mode: chunked (default) or naive evaluation; not part of the weights.
        chunk_size: query rows per block in chunked mode.
    """

    def __init__(
        self,
        channels: int,
        *,
        key_reduction: int = 8,
        mode: AttentionMode | str = AttentionMode.CHUNKED,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        super().__init__()
        positive_int("key_reduction", key_reduction)
        positive_int("channels", channels, minimum=key_reduction)
        positive_int("chunk_size", chunk_size)
        self.mode = choice("mode", mode, AttentionMode)
        self.chunk_size = chunk_size
        key_channels = channels // key_reduction
        self.query = nn.Conv2d(channels, key_channels, kernel_size=1)
        self.key = nn.Conv2d(channels, key_channels, kernel_size=1)
        self.value = nn.Conv2d(channels, channels, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        query = self.query(x).flatten(2)
        key = self.key(x).flatten(2)
        value = self.value(x).flatten(2)
        if self.mode is AttentionMode.NAIVE:
            attended = naive_attention(query, key, value)
        else:
            attended = chunked_attention(query, key, value, self.chunk_size)
        return x + self.gamma * attended.view(batch, channels, height, width)
