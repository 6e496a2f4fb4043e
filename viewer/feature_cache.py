"""FIGAN explorations already computed, per image and component (no Qt).

An exploration takes up to a minute and a half; going back to a feature of an image already
explored shows the kept result at once. Each holds nine full-size frames (tens of MB for a large
radiograph), so only the last few are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from viewer.explanation import Explanation, Feature

DEFAULT_CAPACITY = 4

# What identifies an image's pixels: its path, size and modification time.
ImageKey = tuple[str, int, int]


def image_key(path: Path) -> ImageKey | None:
    """The key of the file at ``path``; None when it cannot be read (nothing is kept then)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return str(path.resolve()), status.st_size, status.st_mtime_ns


class FeatureCache:
    """The last ``capacity`` explorations, the least recently used dropped first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[tuple[ImageKey, int], Explanation] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, image: ImageKey | None, feature: Feature) -> Explanation | None:
        if image is None:
            return None
        key = (image, feature.index)
        explanation = self._entries.get(key)
        if explanation is not None:
            self._entries.move_to_end(key)
        return explanation

    def put(self, image: ImageKey | None, feature: Feature, explanation: Explanation) -> None:
        if image is None:
            return
        key = (image, feature.index)
        self._entries[key] = explanation
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
