"""Scores of one explanation against phantom ground truth, and bootstrap intervals over images.

Each function takes ``(H, W)`` arrays on the image grid and returns a float (NaN where the score
is undefined for that image, e.g. a lesion-free image for localisation). Every score can fail: a
map that ignores the lesions gets IoU ~0 and ROC AUC ~0.5, exactly what the random map gets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: Pointing game: the map's maximum counts as a hit within this many pixels of a lesion.
POINTING_TOLERANCE_PX = 2


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation (Pearson) of two equal-size arrays; NaN if one is flat."""
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def iou_at_area(values: np.ndarray, lesion: np.ndarray, lungs: np.ndarray) -> float:
    """IoU of the map's top-k lung pixels (k = the lesion's pixel count) with the lesion."""
    area = int(lesion.sum())
    if area == 0:
        return float("nan")
    scores = np.where(lungs, values, -np.inf).ravel()
    flat_top = np.zeros(scores.size, bool)
    flat_top[np.argpartition(scores, -area)[-area:]] = True
    top = flat_top.reshape(values.shape)
    return float((top & lesion).sum() / (top | lesion).sum())


def detection_aucs(
    values: np.ndarray, lesion: np.ndarray, lungs: np.ndarray
) -> tuple[float, float]:
    """(ROC AUC, PR AUC) of the map as a lesion detector over the lung pixels; NaN when the lungs
    hold only one class."""
    # Imported here: scikit-learn is slow to import (docs/benchmarks.md), and every cxr-explain
    # command imports the validation module through the subcommand registry.
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth, scores = lesion[lungs], values[lungs]
    if truth.all() or not truth.any():
        return float("nan"), float("nan")
    return float(roc_auc_score(truth, scores)), float(average_precision_score(truth, scores))


def pointing_game(values: np.ndarray, lesion: np.ndarray, lungs: np.ndarray) -> float:
    """1 when the map's largest lung value lies on (or within ``POINTING_TOLERANCE_PX`` of) a
    lesion, else 0; NaN without a lesion. Ties: the first maximum in row-major order."""
    if not lesion.any():
        return float("nan")
    scores = np.where(lungs, values, -np.inf)
    row, column = np.unravel_index(int(np.argmax(scores)), scores.shape)
    t = POINTING_TOLERANCE_PX
    window = lesion[max(row - t, 0) : row + t + 1, max(column - t, 0) : column + t + 1]
    return float(window.any())


def leakage(difference: np.ndarray, lungs: np.ndarray) -> float:
    """Share of the difference's absolute mass outside the lungs (0 = all inside)."""
    magnitude = np.abs(difference)
    total = float(magnitude.sum())
    return float(magnitude[~lungs].sum() / total) if total > 0 else 0.0


def change_size_ratio(difference: np.ndarray, truth: np.ndarray) -> float:
    """Root-mean-square of ``difference`` over that of ``truth`` (same pixels): how much more
    the explanation changes than the planted finding did (1 = as much; NaN when the truth is
    zero). It says nothing about where the change is: that is the NCC's and IoU's job."""
    truth_size = float(np.sqrt(np.mean(np.square(truth, dtype=np.float64))))
    if truth_size == 0:
        return float("nan")
    return float(np.sqrt(np.mean(np.square(difference, dtype=np.float64)))) / truth_size


def relative_error(predicted: float, true: float) -> float:
    """``|predicted - true| / |true|``; NaN when the truth is zero."""
    return abs(predicted - true) / abs(true) if true else float("nan")


def device_change_ratio(difference: np.ndarray, devices: np.ndarray, lungs: np.ndarray) -> float:
    """Mean |change| on foreign-object pixels inside the lungs over the mean |change| on the
    other lung pixels (0 = devices untouched); NaN without device pixels in the lungs."""
    on_devices = devices & lungs
    elsewhere = lungs & ~devices
    if not on_devices.any() or not elsewhere.any():
        return float("nan")
    base = float(np.abs(difference[elsewhere]).mean())
    return float(np.abs(difference[on_devices]).mean() / base) if base > 0 else float("nan")


def random_map(shape: tuple[int, int], seed: int) -> npt.NDArray[np.float32]:
    """A uniform random map: the floor every localisation score must beat."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean over images (NaNs dropped); None when fewer
    than two finite values remain."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if finite.size < 2:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, finite.size, size=(resamples, finite.size))
    means = finite[draws].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)
