"""The phantom's skeleton: ribs, clavicles and the spine, drawn into the bone density image.

Split from :mod:`engine.phantoms.anatomy` (which lays out the anatomy and calls these); the same
normalised coordinates and D units. Bone densities are boosted over physical attenuation (~0.15
per mm) to mimic the local-contrast processing of clinical CR/DR images, which makes bone
conspicuous.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.phantoms.raster import draw_bands, draw_spheres
from engine.types import FloatImage

if TYPE_CHECKING:
    from engine.phantoms.anatomy import Anatomy, Frame

FloatArray = npt.NDArray[np.float64]

# D units per mm of projected bone thickness.
RIB_DENSITY = 0.30
ANTERIOR_RIB_DENSITY = 0.2
CLAVICLE_DENSITY = 0.45
SPINE_DENSITY = 0.1


class Bands:
    """Collects band columns (ribs, clavicles) so that all are drawn in one vectorised call."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.parts: list[tuple[FloatArray, ...]] = []

    def add(
        self, u: FloatArray, v: FloatArray, half_width: FloatArray, density: float, cortex: float
    ) -> None:
        """A band along a normalised polyline (monotonic in u) with per-point half-widths."""
        frame = self.frame
        rows, cols = frame.to_px(u, v)
        order = np.argsort(cols)
        rows, cols, half_width = rows[order], cols[order], half_width[order]
        col_low = max(math.ceil(cols[0] - 0.5), 0)
        col_high = min(math.floor(cols[-1] - 0.5), frame.size - 1)
        if col_high < col_low:
            return
        pixel_cols = np.arange(col_low, col_high + 1)
        centers = pixel_cols + 0.5
        t = (centers - cols[0]) / max(cols[-1] - cols[0], 1e-6)
        taper = np.clip(np.minimum(t, 1.0 - t) / 0.06, 0.0, 1.0) ** 0.5
        widths = np.interp(centers, cols, half_width) * frame.px_per_unit
        self.parts.append(
            (
                pixel_cols.astype(np.float64),
                np.interp(centers, cols, rows),
                np.maximum(widths, 0.6),
                density * taper,
                np.full(pixel_cols.size, cortex),
            )
        )

    def draw(self, out: FloatImage) -> None:
        if not self.parts:
            return
        cols, rows, widths, density, cortex = (
            np.concatenate(p) for p in zip(*self.parts, strict=True)
        )
        draw_bands(out, cols.astype(np.int64), rows, widths, density, cortex)


def ribs(bands: Bands, a: Anatomy, px_mm: float) -> None:
    t = np.linspace(0.0, 1.0, 24)
    for side in (-1, 1):
        v_start = a.rib_top + (0.008 if side > 0 else 0.0)
        for k in range(11):
            start_v = v_start + a.rib_pitch * (k + 0.04 * k * k)
            if start_v > 0.85:
                break
            wall = a.body_half_width - 0.035
            reach = min(0.18 + 0.09 * k, wall) if k < 2 else wall
            dist = 0.035 + t * (reach - 0.035)
            amp = 0.085 + 0.004 * k
            curve = start_v + amp * (-0.7 * np.sin(np.pi * t) + 1.5 * t**2)
            if k == 0:
                curve = start_v + 0.05 * (-0.9 * np.sin(np.pi * t) + 0.9 * t**2)
            half = (0.0095 + 0.0006 * k) * (0.65 + 0.35 * np.clip(t / 0.25, 0.0, 1.0))
            bands.add(side * dist, curve, half, RIB_DENSITY * px_mm * 2, 0.72)
            if 1 <= k <= 7:  # anterior arc, from the lateral end down toward the sternum
                end_u, end_v = reach, curve[-1]
                medial = 0.11 + 0.01 * k
                ta = np.linspace(0.0, 1.0, 16)
                dist_a = end_u - ta * (end_u - medial)
                curve_a = (
                    end_v
                    + 0.006
                    + (0.13 + 0.005 * k) * (0.6 * ta + 0.4 * ta**2)
                    - 0.02 * np.sin(np.pi * ta)
                )
                half_a = np.full(ta.shape, 0.011 + 0.0004 * k) * (1.0 - 0.25 * ta)
                bands.add(side * dist_a, curve_a, half_a, ANTERIOR_RIB_DENSITY * px_mm * 2, 0.8)


def clavicles(bands: Bands, a: Anatomy, px_mm: float) -> None:
    t = np.linspace(0.0, 1.0, 24)
    base = a.rib_top + 0.06
    for side in (-1, 1):
        dist = 0.035 + t * 0.33
        curve = base - 0.05 * t - 0.012 * np.sin(2.0 * np.pi * t) + 0.02 * t**4
        half = 0.011 * (1.15 - 0.3 * np.sin(np.pi * t))
        bands.add(side * dist, curve, half, CLAVICLE_DENSITY * px_mm * 2, 0.7)


def spine(bone: FloatImage, a: Anatomy, frame: Frame, px_mm: float) -> None:
    """Vertebral bodies with disc spaces, pedicles and spinous processes along the midline."""
    size = frame.size
    v = frame.v
    pitch = 0.062
    half = 0.05
    cols = np.flatnonzero(np.abs(frame.u_col - a.spine_offset) < half + 0.03)
    if cols.size == 0:
        return
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    band = slice(c0, c1)
    u_mid = (frame.u[:, band] - a.spine_offset) / half  # -1..1 across the vertebral bodies
    u2 = np.minimum(u_mid * u_mid, 1.0)
    across = np.sqrt(1.0 - u2) * (0.55 + 0.45 * u2)  # brighter cortical sides
    phase = np.cos(2.0 * np.pi * (v - 0.02) / pitch)
    bodies = np.clip(0.5 + 0.9 * phase, 0.15, 1.0)  # dark disc spaces between the bodies
    width_mm = 2 * half * frame.px_per_unit * px_mm
    bone[:, band] += (across * bodies[:, None] * SPINE_DENSITY * width_mm).astype(np.float32)
    levels = np.arange(0.02, 1.0, pitch)
    lev_u = np.concatenate(
        [levels * 0 + a.spine_offset - 0.032, levels * 0 + a.spine_offset + 0.032]
    )
    lev_v = np.concatenate([levels, levels]) - 0.008
    rows, cols_p = frame.to_px(lev_u, lev_v)
    rows_s, cols_s = frame.to_px(levels * 0 + a.spine_offset, levels + 0.02)
    ring = 0.011 * frame.px_per_unit
    count, spinous = rows.size, rows_s.size
    # pedicles as rings (a sphere minus a smaller one), spinous processes as small ovals
    draw_spheres(
        bone,
        np.concatenate([rows, rows, rows_s]),
        np.concatenate([cols_p, cols_p, cols_s]),
        np.concatenate(
            [np.full(count, ring), np.full(count, ring * 0.6), np.full(spinous, 0.01 * size)]
        ),
        np.concatenate([np.full(count, 0.25), np.full(count, -0.3), np.full(spinous, 0.15)])
        * px_mm,
        aspect=np.concatenate([np.full(2 * count, 0.75), np.full(spinous, 0.6)]),
    )
