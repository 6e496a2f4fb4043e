"""Where the four corner annotations of a pane go, so that they never overlap (no Qt widgets).

Weasis and OHIF keep four quiet corners. Here each corner's text gets a rectangle of its own:
the two texts of a row (top or bottom) share the width, the two rows share the height, and a
text that does not fit its share wraps (or, in a pane too small for it, is cut) instead of
running into its neighbour. Rectangles are ``(x, y, width, height)`` in pane pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import Qt

Rect = tuple[int, int, int, int]


class Corner(Enum):
    TOP_LEFT = Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft
    TOP_RIGHT = Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight
    BOTTOM_LEFT = Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft
    BOTTOM_RIGHT = Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight

    @property
    def is_left(self) -> bool:
        return self in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT)

    @property
    def is_top(self) -> bool:
        return self in (Corner.TOP_LEFT, Corner.TOP_RIGHT)


@dataclass(frozen=True, slots=True)
class CornerText:
    """How much room one corner's text wants: its width unwrapped, the width of its longest word
    (narrower cuts the word), and its height when wrapped to a given width (a label's
    ``heightForWidth``)."""

    natural_width: int
    min_width: int
    height_for_width: Callable[[int], int]


_ROWS = ((Corner.TOP_LEFT, Corner.TOP_RIGHT), (Corner.BOTTOM_LEFT, Corner.BOTTOM_RIGHT))
GAP = 8  # pixels kept free between the two texts of a row, and between the two rows


def corner_rects(
    width: int, height: int, texts: Mapping[Corner, CornerText], gap: int = GAP
) -> dict[Corner, Rect]:
    """A rectangle for each corner in ``texts`` inside a ``width`` x ``height`` pane; the four
    never intersect, and each is as large as its text needs when the pane has room for it."""
    widths: dict[Corner, int] = {}
    for left, right in _ROWS:
        wanted = [texts[c].natural_width if c in texts else 0 for c in (left, right)]
        least = [texts[c].min_width if c in texts else 0 for c in (left, right)]
        widths[left], widths[right] = _share(width, wanted, gap, least)
    heights = {
        corner: text.height_for_width(widths[corner]) if widths[corner] > 0 else 0
        for corner, text in texts.items()
    }
    top = max((heights[c] for c in heights if c.is_top), default=0)
    bottom = max((heights[c] for c in heights if not c.is_top), default=0)
    top, bottom = _share(height, [top, bottom], gap)
    rects: dict[Corner, Rect] = {}
    for corner in texts:
        w = widths[corner]
        h = min(heights[corner], top if corner.is_top else bottom)
        x = 0 if corner.is_left else width - w
        y = 0 if corner.is_top else height - h
        rects[corner] = (x, y, w, h)
    return rects


def _share(
    room: int, wanted: list[int], gap: int, least: list[int] | None = None
) -> tuple[int, int]:
    """Split ``room`` between two texts that want ``wanted`` pixels, ``gap`` apart: both get
    what they want when it fits; otherwise a text that wants less than half keeps its size and
    the other gets the rest, else they get about half each, moved so that each keeps at least
    ``least`` (its longest word) where the room allows."""
    first, second = (max(value, 0) for value in wanted)
    if not first or not second:  # a single text may use the whole row
        return min(first, room), min(second, room)
    free = max(room - gap, 0)
    if first + second <= free:
        return first, second
    half = free // 2
    if first <= half:
        return first, free - first
    if second <= half:
        return free - second, second
    first_least, second_least = least if least is not None else (0, 0)
    if first_least + second_least > free:
        return half, free - half
    split = min(max(half, first_least), free - second_least)
    return split, free - split
