"""Lung-field brightness statistics, original vs translated (the paper's Section 2.4).

Values are in intensity units: the models' window of the image (0.5-99.5 percentiles of its
modality values, polarity applied; ``engine.inference.model_input``), ``[0, 1]`` with 1 = densest,
so numbers compare across images, files and scanners whatever their display window; the change is
translated minus original.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.explain.zones import BoolImage, Zone, zone_edges
from engine.types import FloatImage, readonly

UNITS = "intensity units of the model window (0 = black, 1 = white)"
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
    """Statistics over the lungs. Right lung = the patient's right (image left on a PA view).

    The lung pixels are gathered once and every region is a selection among them (zones by
    row, as ``engine.explain.zones.split_zones`` draws them): twelve masked passes over a
    full-size image took a third of the explanation (docs/benchmarks.md).
    """
    if not original.shape == translated.shape == right_lung.shape == left_lung.shape:
        raise ValueError("original, translated and the lung masks must have one shape")
    width = original.shape[1]
    index = np.flatnonzero(right_lung | left_lung)
    rows = index // width
    before32 = original.reshape(-1)[index]
    after32 = translated.reshape(-1)[index]
    before, after = before32.astype(np.float64), after32.astype(np.float64)
    sides = {"right": right_lung.reshape(-1)[index], "left": left_lung.reshape(-1)[index]}
    zones = {side: _zone_selections(rows, selected) for side, selected in sides.items()}
    everywhere = np.ones(index.size, dtype=bool)
    regions = [_region("lung", before, after, everywhere)]
    for side, selected in sides.items():
        regions.append(_region(f"{side} lung", before, after, selected))
        for zone in Zone:
            regions.append(_region(f"{side} {zone.value}", before, after, zones[side][zone]))
    for zone in Zone:
        both = zones["right"][zone] | zones["left"][zone]
        regions.append(_region(f"{zone.value} zones", before, after, both))
    change = after32 - before32
    limit = float(np.abs(change).max()) if change.size else 0.0
    limit = limit if limit > 0 else 1e-3
    counts, edges = np.histogram(change, bins=HISTOGRAM_BINS, range=(-limit, limit))
    return LungStatistics(tuple(regions), readonly(edges), readonly(counts.astype(np.int64)))


def _zone_selections(
    rows: npt.NDArray[np.intp], selected: npt.NDArray[np.bool_]
) -> dict[Zone, npt.NDArray[np.bool_]]:
    """Per zone, which of the gathered lung pixels belong to this lung's zone."""
    edges = zone_edges(rows[selected])  # rows ascend with the flat index
    if edges is None:
        return {zone: np.zeros_like(selected) for zone in Zone}
    return {
        zone: selected & (rows >= start) & (rows < stop)
        for zone, start, stop in zip(Zone, edges[:-1], edges[1:], strict=True)
    }


def _region(
    name: str,
    before: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
    selected: npt.NDArray[np.bool_],
) -> RegionStatistics:
    count = int(np.count_nonzero(selected))
    if count == 0:
        nan = float("nan")
        return RegionStatistics(name, 0, nan, nan, nan, nan)
    if count < selected.size:
        before, after = before[selected], after[selected]
    return RegionStatistics(
        name,
        count,
        float(before.mean()),
        float(before.std()),
        float(after.mean()),
        float(after.std()),
    )
