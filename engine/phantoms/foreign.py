"""Foreign objects: ECG electrodes and leads, monitoring wires and a pacemaker.

They are not anatomy and not disease: they appear identically in the healthy and the diseased
image, so a class translation that changes them is wrong (a test case for counterfactuals).
Metal is rendered far denser than bone, so it saturates to near white as on real radiographs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.phantoms.anatomy import Anatomy, Frame
from engine.phantoms.params import ForeignObject
from engine.phantoms.raster import draw_capsules, draw_spheres
from engine.types import FloatImage

FloatArray = npt.NDArray[np.float64]
METAL_DENSITY = 3.0  # D units per mm of metal wire / snap
FOREIGN_MASK_THRESHOLD = 0.3  # D units: a pixel belongs to the foreign-object mask above this


def _bezier(points: FloatArray, count: int) -> tuple[FloatArray, FloatArray]:
    """Points on a cubic Bezier curve through four (u, v) control points."""
    t = np.linspace(0.0, 1.0, count)[:, None]
    p0, p1, p2, p3 = points
    curve = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    return curve[:, 0], curve[:, 1]


def _wire(
    out: FloatImage, frame: Frame, points: FloatArray, radius_mm: float, density: float, mm: float
) -> None:
    u, v = _bezier(points, 48)
    rows, cols = frame.to_px(u, v)
    radius = np.full(rows.size - 1, radius_mm / mm)
    draw_capsules(out, (rows[:-1], cols[:-1]), (rows[1:], cols[1:]), radius, radius, density * mm)


def render_foreign(
    objects: frozenset[ForeignObject],
    anatomy: Anatomy,
    size: int,
    spacing_mm: float,
    rng: np.random.Generator,
) -> FloatImage:
    """Density (D units) of the requested foreign objects, ``(size, size)`` float32."""
    out = np.zeros((size, size), dtype=np.float32)
    frame = Frame(anatomy, size)
    mm = spacing_mm
    unit_px = frame.px_per_unit
    if ForeignObject.ECG_LEADS in objects:
        sites = np.array([[-0.3, 0.2], [0.3, 0.2], [-0.28, 0.78], [0.3, 0.8], [0.12, 0.6]])
        sites = sites + rng.uniform(-0.03, 0.03, sites.shape)
        keep = sites[: int(rng.integers(3, 6))]
        rows, cols = frame.to_px(keep[:, 0], keep[:, 1])
        draw_spheres(out, rows, cols, np.full(rows.size, 0.022 * unit_px), 0.05 * mm)  # foam pad
        draw_spheres(out, rows, cols, np.full(rows.size, 0.006 * unit_px), METAL_DENSITY * mm)
        for u0, v0 in keep:
            end = np.array([u0 + rng.uniform(-0.15, 0.15), 1.05 if v0 > 0.5 else -0.05])
            bend = rng.uniform(-0.15, 0.15, (2, 2))
            control = np.array([[u0, v0], [u0, v0] + bend[0], end + bend[1] * 0.5, end])
            _wire(out, frame, control, 0.5, METAL_DENSITY * 0.6, mm)
    if ForeignObject.WIRES in objects:
        for _ in range(int(rng.integers(1, 3))):
            start = np.array([rng.uniform(-0.55, -0.3), rng.uniform(0.1, 0.9)])
            end = np.array([rng.uniform(0.3, 0.55), rng.uniform(0.1, 0.9)])
            mid = rng.uniform([-0.2, 0.1], [0.2, 0.9], (2, 2))
            _wire(out, frame, np.array([start, mid[0], mid[1], end]), 0.7, METAL_DENSITY * 0.5, mm)
    if ForeignObject.PACEMAKER in objects:
        _pacemaker(out, frame, rng, mm)
    return out


def _pacemaker(out: FloatImage, frame: Frame, rng: np.random.Generator, mm: float) -> None:
    """A can in the left infraclavicular pocket (image right) with leads into the heart."""
    center_u = 0.24 + rng.uniform(-0.03, 0.03)
    center_v = 0.24 + rng.uniform(-0.02, 0.02)
    half_u, half_v = 0.055, 0.045  # ~44 x 36 mm
    row, col = frame.to_px(np.array([center_u]), np.array([center_v]))
    unit_px = frame.px_per_unit
    half_cols, half_rows = half_u * unit_px, half_v * unit_px
    r0, r1 = int(max(row[0] - half_rows - 2, 0)), int(min(row[0] + half_rows + 2, out.shape[0]))
    c0, c1 = int(max(col[0] - half_cols - 2, 0)), int(min(col[0] + half_cols + 2, out.shape[1]))
    if r1 > r0 and c1 > c0:
        yy = (np.arange(r0, r1) + 0.5 - row[0])[:, None] / half_rows
        xx = (np.arange(c0, c1) + 0.5 - col[0])[None, :] / half_cols
        shape = np.abs(xx) ** 4 + np.abs(yy) ** 4  # rounded rectangle (superellipse)
        can = np.clip((1.0 - shape) * 8.0, 0.0, 1.0) * 7.0
        battery = (np.abs(xx) < 0.6) & (yy > -0.1) & (yy < 0.7)
        out[r0:r1, c0:c1] += (can + battery * 3.0).astype(np.float32)
    lead_start = np.array([center_u - 0.03, center_v - half_v])
    for tip in ([-0.06, 0.53], [0.07, 0.66]):
        control = np.array(
            [lead_start, [0.02, 0.17], [-0.05, 0.3], np.array(tip) + rng.uniform(-0.02, 0.02, 2)]
        )
        _wire(out, frame, control, 1.0, METAL_DENSITY * 0.7, mm)
        tip_row, tip_col = frame.to_px(control[3:, 0], control[3:, 1])
        draw_spheres(out, tip_row, tip_col, np.array([2.5 / mm]), METAL_DENSITY * mm)
