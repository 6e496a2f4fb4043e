"""Colour maps for the difference pane: gray (the paper's convention) and a diverging option."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pyqtgraph as pg


class DifferenceMap(StrEnum):
    GRAY = "gray"
    DIVERGING = "diverging"


# ColorBrewer RdBu reversed: blue = decrease, white = no change, red = increase.
_DIVERGING_STOPS = (
    (33, 102, 172),
    (103, 169, 207),
    (247, 247, 247),
    (239, 138, 98),
    (178, 24, 43),
)


def difference_colormap(kind: DifferenceMap, inverted: bool = False) -> pg.ColorMap:
    """The map for ``(-m, +m)``: gray (black = decrease, mid-gray = no change, white = increase)
    or diverging. ``inverted`` reverses it, for images shown with reversed polarity, so that
    "brighter" keeps meaning "the image got brighter"."""
    if kind is DifferenceMap.DIVERGING:
        colours = np.array(_DIVERGING_STOPS, dtype=np.ubyte)
    else:
        colours = np.array([(0, 0, 0), (255, 255, 255)], dtype=np.ubyte)
    if inverted:
        colours = colours[::-1]
    positions = np.linspace(0.0, 1.0, len(colours))
    return pg.ColorMap(positions, colours, name=f"difference-{kind.value}")
