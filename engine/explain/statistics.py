"""Lung-field brightness statistics, original vs translated (the paper's Section 2.4).

Values are in display units: the model-facing presentation scale ``[0, 1]`` (1 = brightest), so
numbers compare across images and scanners; the change is translated minus original.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.explain.zones import BoolImage, Zone, split_zones
from engine.types import FloatImage, readonly

UNITS = "display units (0 = black, 1 = white)"
HISTOGRAM_BINS = 41


@dataclass(frozen=True, slots=True)
class RegionStatistics:
    """Mean and standard deviation of one region before and after translation."""

    region: str
    n_pixels: int
    mean_original: float
    std_original: float
    mean_translated: float
    std_translated: float

    @property
    def mean_change(self) -> float:
        return self.mean_translated - self.mean_original


@dataclass(frozen=True, slots=True, eq=False)
class LungStatistics:
    """Whole lung field, each lung and each zone; plus a histogram of the per-pixel change.

    ``histogram_edges``: ``(HISTOGRAM_BINS + 1,)`` symmetric around 0; ``histogram_counts``:
    ``(HISTOGRAM_BINS,)`` pixel counts of the lung-field change.
    """

    regions: tuple[RegionStatistics, ...]
    histogram_edges: npt.NDArray[np.float64]
    histogram_counts: npt.NDArray[np.int64]
    units: str = UNITS

    def region(self, name: str) -> RegionStatistics:
        for region in self.regions:
            if region.region == name:
                return region
        raise KeyError(name)

    @property
    def lung(self) -> RegionStatistics:
        return self.region("lung")


def lung_statistics(
    original: FloatImage,
    translated: FloatImage,
    right_lung: BoolImage,
    left_lung: BoolImage,
) -> LungStatistics:
    """Statistics over the lungs. Right lung = the patient's right (image left on a PA view)."""
    if not original.shape == translated.shape == right_lung.shape == left_lung.shape:
        raise ValueError("original, translated and the lung masks must have one shape")
    lung = right_lung | left_lung
    zones = {"right": split_zones(right_lung), "left": split_zones(left_lung)}
    regions = [_region("lung", original, translated, lung)]
    for side, mask in (("right", right_lung), ("left", left_lung)):
        regions.append(_region(f"{side} lung", original, translated, mask))
        for zone, zone_mask in zones[side].items():
            regions.append(_region(f"{side} {zone.value}", original, translated, zone_mask))
    for zone in Zone:
        both = zones["right"][zone] | zones["left"][zone]
        regions.append(_region(f"{zone.value} zones", original, translated, both))
    change = (translated - original)[lung]
    limit = float(np.abs(change).max()) if change.size else 0.0
    limit = limit if limit > 0 else 1e-3
    counts, edges = np.histogram(change, bins=HISTOGRAM_BINS, range=(-limit, limit))
    return LungStatistics(tuple(regions), readonly(edges), readonly(counts.astype(np.int64)))


def _region(
    name: str, original: FloatImage, translated: FloatImage, mask: BoolImage
) -> RegionStatistics:
    count = int(mask.sum())
    if count == 0:
        nan = float("nan")
        return RegionStatistics(name, 0, nan, nan, nan, nan)
    before = original[mask].astype(np.float64)
    after = translated[mask].astype(np.float64)
    return RegionStatistics(
        name,
        count,
        float(before.mean()),
        float(before.std()),
        float(after.mean()),
        float(after.std()),
    )
