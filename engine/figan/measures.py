"""Numbers that judge a FIGAN generator: shared by training (test metrics) and validation.

- :func:`frechet_distance`: the Frechet distance between two Gaussian fits of feature vectors.
  FIGAN reports it in *the classifier's own feature space* (the "classifier-feature Frechet
  distance"); it is not the FID, which needs an Inception network trained on ImageNet.
- :func:`sweep_scores`: the classifier's component scores of generated images along a sweep of
  one component (the others and the noise held), from which the requested-vs-achieved
  correlation follows (:func:`pearson`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from engine.figan.features import ScoreProjector

FloatArray = npt.NDArray[np.float64]


def frechet_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` of two ``(N, F)`` samples.

    ``tr((S_a S_b)^(1/2))`` is computed as the sum of the square roots of the eigenvalues of the
    symmetric ``S_a^(1/2) S_b S_a^(1/2)`` (same spectrum, numerically stable, no complex parts).
    Each sample needs at least 2 rows. With fewer rows than features the covariances are rank
    deficient and the distance is biased upwards: compare numbers computed with the same counts.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise ValueError(
            f"frechet_distance needs two (N >= 2, F) samples, got {x.shape} and {y.shape}"
        )
    mean = x.mean(axis=0) - y.mean(axis=0)
    cov_x = np.atleast_2d(np.cov(x, rowvar=False))  # one feature: np.cov gives a scalar
    cov_y = np.atleast_2d(np.cov(y, rowvar=False))
    values, vectors = np.linalg.eigh(cov_x)
    root_x = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root_x @ cov_y @ root_x
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    return float(mean @ mean + np.trace(cov_x) + np.trace(cov_y) - 2.0 * cross)


def pearson(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Pearson correlation of two equal-length vectors; NaN when either is constant."""
    u = np.asarray(x, dtype=np.float64).ravel()
    v = np.asarray(y, dtype=np.float64).ravel()
    if u.shape != v.shape or u.size < 2:
        raise ValueError(f"pearson needs two vectors of equal length >= 2, got {u.size}, {v.size}")
    u, v = u - u.mean(), v - v.mean()
    denominator = float(np.sqrt((u @ u) * (v @ v)))
    return float(u @ v / denominator) if denominator > 1e-12 else float("nan")


@torch.no_grad()
def generate(
    generator: nn.Module,
    conditions: torch.Tensor,
    latents: torch.Tensor,
    *,
    batch_size: int = 32,
) -> torch.Tensor:
    """Images ``(N, 1, S, S)`` in ``[-1, 1]`` for ``conditions (N, k)`` and ``latents (N, L)``."""
    parts = [
        generator(conditions[i : i + batch_size], latents[i : i + batch_size]).float()
        for i in range(0, conditions.shape[0], batch_size)
    ]
    return torch.cat(parts) if parts else torch.zeros(0)


@torch.no_grad()
def sweep_scores(
    generator: nn.Module,
    projector: ScoreProjector,
    base: torch.Tensor,
    latents: torch.Tensor,
    component: int,
    positions: npt.ArrayLike,
) -> FloatArray:
    """Achieved scores ``(M, P, k)``: base condition ``m`` with ``component`` set to each position.

    ``base``: ``(M, k)`` conditions (SD units), ``latents``: ``(M, L)``, held along each sweep.
    """
    steps = torch.as_tensor(np.asarray(positions, dtype=np.float32), device=base.device)
    m, p = base.shape[0], steps.shape[0]
    conditions = base.repeat_interleave(p, dim=0).clone()
    conditions[:, component] = steps.repeat(m)
    images = generate(generator, conditions, latents.repeat_interleave(p, dim=0))
    scores = torch.cat([projector(images[i : i + 32])[0] for i in range(0, len(images), 32)])
    return scores.double().cpu().numpy().reshape(m, p, -1)


def sweep_correlations(
    achieved: FloatArray, component: int, positions: npt.ArrayLike
) -> FloatArray:
    """Per sweep, the correlation of the requested positions with the achieved ``component``."""
    steps = np.asarray(positions, dtype=np.float64)
    return np.asarray([pearson(steps, row[:, component]) for row in achieved], dtype=np.float64)
