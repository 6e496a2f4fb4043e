"""Lung zones: upper, middle and lower thirds of each lung's height (the ILO reading zones)."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

BoolImage = npt.NDArray[np.bool_]


class Zone(StrEnum):
    UPPER = "upper"
    MIDDLE = "middle"
    LOWER = "lower"


def split_zones(lung: BoolImage) -> dict[Zone, BoolImage]:
    """Divide one lung mask into three bands of equal height between its top and bottom rows."""
    zones = {zone: np.zeros_like(lung) for zone in Zone}
    edges = zone_edges(np.flatnonzero(lung.any(axis=1)))
    if edges is None:
        return zones
    for zone, start, stop in zip(Zone, edges[:-1], edges[1:], strict=True):
        zones[zone][start:stop] = lung[start:stop]
    return zones


def zone_edges(lung_rows: npt.NDArray[np.intp]) -> npt.NDArray[np.intp] | None:
    """Row boundaries ``(4,)`` of the upper, middle and lower zones of a lung occupying the
    sorted rows ``lung_rows`` (zone ``i``: ``edges[i] <= row < edges[i + 1]``); None if empty."""
    if lung_rows.size == 0:
        return None
    top, bottom = int(lung_rows[0]), int(lung_rows[-1]) + 1
    return np.linspace(top, bottom, 4).round().astype(np.intp)
