"""Slider frames: an image sequence along one explained axis, each with its classifier score.

The CycleGAN axis runs from the original (strength 0) to the counterfactual (strength 1) and, when
asked, beyond it (exaggerated); FIGAN component axes use the same interface.

A frame's full-resolution image is rendered when it is asked for (``BlendedImages``): nine frames
of a 2000 x 2000 radiograph are 290 MB and half a second of blending, which ``cxr-explain
explain`` without ``--gif`` never looks at. Frames made by a model (FIGAN) keep theirs
(``StoredImages``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.explain.difference import signed_difference
from engine.types import FloatImage, readonly


class FrameImages(Protocol):
    """Where a frame's images come from: ``(H, W)`` float32 intensity units, read-only."""

    def image(self, position: float) -> FloatImage: ...

    def difference(self, position: float) -> FloatImage:
        """``image(position) - original``; > 0 brighter."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class BlendedImages:
    """Frames along original -> translated, rendered on demand (see module docstring)."""

    original: FloatImage
    translated: FloatImage

    def image(self, position: float) -> FloatImage:
        return readonly(blend(self.original, self.translated, position))

    def difference(self, position: float) -> FloatImage:
        changed = blend(self.original, self.translated, position)
        return readonly(signed_difference(self.original, changed))


@dataclass(frozen=True, slots=True, eq=False)
class StoredImages:
    """One frame's images, computed ahead (the position is already in them)."""

    stored_image: FloatImage
    stored_difference: FloatImage

    def image(self, position: float) -> FloatImage:
        return self.stored_image

    def difference(self, position: float) -> FloatImage:
        return self.stored_difference


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One slider position and the classifier's probability there; ``image``/``difference``
    (``(H, W)`` float32 intensity units) come from ``source``, rendered on each access for blended
    frames, so a caller that needs one twice keeps it."""

    position: float
    probability: float
    source: FrameImages

    @property
    def image(self) -> FloatImage:
        return self.source.image(self.position)

    @property
    def difference(self) -> FloatImage:
        return self.source.difference(self.position)


@dataclass(frozen=True, slots=True, eq=False)
class FrameSequence:
    """Frames along ``axis`` plus the shared symmetric difference limit and the monotonic check."""

    axis: str
    frames: tuple[Frame, ...]
    difference_limit: float
    label: str  # what ``probability`` is the probability of, e.g. "pneumoconiosis"
    monotonic: bool
    warnings: tuple[str, ...] = ()

    @property
    def probabilities(self) -> tuple[float, ...]:
        return tuple(frame.probability for frame in self.frames)


def strength_positions(n_frames: int, exaggerate: float = 1.0) -> tuple[float, ...]:
    """Evenly spaced strengths from 0 (original) to ``exaggerate`` (1 = the counterfactual)."""
    if n_frames < 2:
        raise ValueError(f"n_frames must be at least 2, got {n_frames}")
    if not 1.0 <= exaggerate <= 3.0:
        raise ValueError(f"exaggerate must be within [1, 3], got {exaggerate}")
    return tuple(float(p) for p in np.linspace(0.0, exaggerate, n_frames))


def blend(original: FloatImage, translated: FloatImage, strength: float) -> FloatImage:
    """The image at ``strength`` along original -> translated, clipped to display range."""
    image = original + np.float32(strength) * (translated - original)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def is_monotonic(values: tuple[float, ...], tolerance: float = 1e-3) -> bool:
    """True when ``values`` never move against their overall direction by more than tolerance."""
    if len(values) < 2:
        return True
    steps = np.diff(np.asarray(values, dtype=np.float64))
    direction = np.sign(values[-1] - values[0])
    if direction == 0:
        return bool(np.all(np.abs(steps) <= tolerance))
    return bool(np.all(steps * direction >= -tolerance))
