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
    rows = np.flatnonzero(lung.any(axis=1))
    zones = {zone: np.zeros_like(lung) for zone in Zone}
    if rows.size == 0:
        return zones
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    edges = np.linspace(top, bottom, 4).round().astype(int)
    for zone, start, stop in zip(Zone, edges[:-1], edges[1:], strict=True):
        zones[zone][start:stop] = lung[start:stop]
    return zones
