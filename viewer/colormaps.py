"""Colour maps for the difference pane: gray (the paper's convention) and a diverging option."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pyqtgraph as pg


class DifferenceMap(StrEnum):
    GRAY = "gray"
    DIVERGING = "diverging"


# How each map's ends and middle look, un-inverted: (middle, low end, high end).
_MAP_WORDS = {
    DifferenceMap.GRAY: ("gray", "darker", "brighter"),
    DifferenceMap.DIVERGING: ("white", "blue", "red"),
}


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


def difference_legend(kind: DifferenceMap, inverted: bool = False) -> str:
    """The difference pane's legend (rich text) for ``difference_colormap(kind, inverted)``.

    Read off the same ends as the map, so that the words, the colour bar (positive values at
    the top) and the pixels agree; "increase" is a positive difference (translated > original).
    """
    middle, low, high = _MAP_WORDS[kind]
    increase, decrease = (low, high) if inverted else (high, low)
    # One short statement a line: the corner stays narrow beside the colour bar.
    legend = f"{middle} = no change<br>{increase} = increase<br>{decrease} = decrease"
    # Inverted like the image, so that a change looks on the difference the way it looks on
    # the radiograph (brighter there, brighter here).
    return f"{legend}<br>(inverted like the image)" if inverted else legend
