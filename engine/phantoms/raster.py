"""Vectorised rasterisers for the phantom primitives (no Python loops over pixels).

Every primitive is drawn as a *projected thickness*: a sphere of radius ``r`` contributes
``2 * sqrt(r^2 - d^2)`` along the beam at distance ``d`` from its centre, a cylinder the same
across its axis. Primitives narrower than a pixel are widened to a minimum radius with their
integrated density kept (so sub-pixel structures become faint blobs instead of vanishing).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.types import FloatImage

FloatArray = npt.NDArray[np.floating]

# Smallest drawn radius in px: below it a primitive is widened and dimmed (density preserved).
MIN_RADIUS_PX = 0.75


def _gather_boxes(
    x_low: npt.NDArray[np.int64],
    x_high: npt.NDArray[np.int64],
    y_low: npt.NDArray[np.int64],
    y_high: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Pixel coordinates of many boxes, concatenated: (primitive index, x, y) per pixel."""
    widths = np.maximum(x_high - x_low, 0)
    heights = np.maximum(y_high - y_low, 0)
    counts = widths * heights
    total = int(counts.sum())
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    local = np.arange(total, dtype=np.int64) - starts[owner]
    box_width = widths[owner]
    xs = x_low[owner] + local % np.maximum(box_width, 1)
    ys = y_low[owner] + local // np.maximum(box_width, 1)
    return owner, xs, ys


def _boxes(
    x_min: FloatArray,
    x_max: FloatArray,
    y_min: FloatArray,
    y_max: FloatArray,
    shape: tuple[int, int],
) -> tuple[npt.NDArray[np.int64], ...]:
    height, width = shape
    x_low = np.clip(np.floor(x_min).astype(np.int64), 0, width)
    x_high = np.clip(np.ceil(x_max).astype(np.int64) + 1, 0, width)
    y_low = np.clip(np.floor(y_min).astype(np.int64), 0, height)
    y_high = np.clip(np.ceil(y_max).astype(np.int64) + 1, 0, height)
    return x_low, x_high, y_low, y_high


def draw_spheres(
    out: FloatImage,
    rows: FloatArray,
    cols: FloatArray,
    radii_px: FloatArray,
    density: FloatArray | float,
    aspect: FloatArray | float = 1.0,
) -> None:
    """Add projected spheres (ellipsoids with ``aspect`` = horizontal / vertical radius) to ``out``.

    Each adds ``density * 2 * sqrt(r^2 - d^2)`` (thickness in px times density per px). Spheres
    below :data:`MIN_RADIUS_PX` are widened with their volume kept.
    """
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    radii = np.asarray(radii_px, dtype=np.float64)
    if rows.size == 0:
        return
    dens = np.broadcast_to(np.asarray(density, dtype=np.float64), rows.shape)
    asp = np.broadcast_to(np.asarray(aspect, dtype=np.float64), rows.shape)
    drawn = np.maximum(radii, MIN_RADIUS_PX)
    dens = dens * (radii / drawn) ** 3  # keep the volume (integrated density)
    boxes = _boxes(cols - drawn * asp, cols + drawn * asp, rows - drawn, rows + drawn, out.shape)
    owner, xs, ys = _gather_boxes(*boxes)
    if owner.size == 0:
        return
    dx = (xs + 0.5 - cols[owner]) / asp[owner]
    dy = ys + 0.5 - rows[owner]
    r2 = drawn[owner] ** 2 - dx * dx - dy * dy
    value = 2.0 * np.sqrt(np.maximum(r2, 0.0)) * dens[owner]
    # Small spheres are poorly sampled by pixel centres: rescale them to their exact volume.
    small = drawn < 3.0
    if np.any(small):
        sampled = np.bincount(owner, weights=value, minlength=rows.size)
        exact = (4.0 / 3.0) * math.pi * drawn**3 * asp * dens
        factor = np.where(small & (sampled != 0), exact / np.where(sampled == 0, 1.0, sampled), 1.0)
        value *= factor[owner]
    np.add.at(out.reshape(-1), ys * out.shape[1] + xs, value.astype(np.float32))


def draw_capsules(
    out: FloatImage,
    start: tuple[FloatArray, FloatArray],
    end: tuple[FloatArray, FloatArray],
    radius_start: FloatArray,
    radius_end: FloatArray,
    density: FloatArray | float,
) -> None:
    """Add tapered cylinders (row, col endpoints, radii in px) to ``out``.

    The ends are cut flat (no round caps), so a chain of segments has no bright
    double-counted joints. Segments thinner than :data:`MIN_RADIUS_PX` are widened and dimmed
    so the density per unit length (the cross-section area) is kept.
    """
    r0_row, r0_col = (np.asarray(a, dtype=np.float32) for a in start)
    r1_row, r1_col = (np.asarray(a, dtype=np.float32) for a in end)
    if r0_row.size == 0:
        return
    rad0 = np.asarray(radius_start, dtype=np.float32)
    rad1 = np.asarray(radius_end, dtype=np.float32)
    dens = np.broadcast_to(np.asarray(density, dtype=np.float32), r0_row.shape)
    reach = np.maximum(np.maximum(rad0, rad1), MIN_RADIUS_PX)
    boxes = _boxes(
        np.minimum(r0_col, r1_col) - reach,
        np.maximum(r0_col, r1_col) + reach,
        np.minimum(r0_row, r1_row) - reach,
        np.maximum(r0_row, r1_row) + reach,
        out.shape,
    )
    owner, xs, ys = _gather_boxes(*boxes)
    if owner.size == 0:
        return
    seg_x = r1_col - r0_col
    seg_y = r1_row - r0_row
    inv_length2 = 1.0 / np.maximum(seg_x * seg_x + seg_y * seg_y, np.float32(1e-6))
    px = xs.astype(np.float32) + np.float32(0.5) - r0_col[owner]
    py = ys.astype(np.float32) + np.float32(0.5) - r0_row[owner]
    sx, sy = seg_x[owner], seg_y[owner]
    t = (px * sx + py * sy) * inv_length2[owner]
    px -= t * sx
    py -= t * sy
    radius = rad0[owner] + (rad1[owner] - rad0[owner]) * t
    drawn = np.maximum(radius, np.float32(MIN_RADIUS_PX))
    keep = (t >= 0.0) & (t < 1.0)
    r2 = drawn * drawn - px * px - py * py
    np.maximum(r2, 0.0, out=r2)
    value = 2.0 * np.sqrt(r2) * (radius / drawn) ** 2 * dens[owner] * keep
    np.add.at(out.reshape(-1), ys * out.shape[1] + xs, value.astype(np.float32))


def draw_bands(
    out: FloatImage,
    cols: npt.NDArray[np.int64],
    center_rows: FloatArray,
    half_width_px: FloatArray,
    density: FloatArray,
    cortex: FloatArray,
) -> None:
    """Add curved bands (ribs, clavicles seen side-on) with a tube profile to ``out``.

    Per entry (one column of one band): the band is centred at ``center_rows`` with
    ``half_width_px``; ``density`` (D units per px of thickness) tapers the ends; ``cortex`` in
    [0, 1) hollows the tube so the margins are brighter than the medulla, as in a projected long
    bone. Many bands are drawn in one call; overlaps add.
    """
    if cols.size == 0:
        return
    height, width = out.shape
    window = math.ceil(2.0 * float(np.max(half_width_px))) + 2
    first = np.floor(center_rows - half_width_px).astype(np.int64)
    rows = first[None, :] + np.arange(window)[:, None]
    w = (rows + 0.5 - center_rows[None, :]) / half_width_px[None, :]
    w2 = (w * w).astype(np.float32)
    value = np.sqrt(np.maximum(1.0 - w2, 0.0))
    hollow = np.sqrt(np.maximum(1.0 - w2 / (cortex * cortex)[None, :], 0.0))
    value -= (0.7 * cortex)[None, :].astype(np.float32) * hollow  # medulla ~30 % of cortex
    value *= (density * half_width_px)[None, :].astype(np.float32)
    valid = (rows >= 0) & (rows < height) & (value != 0.0)
    np.add.at(out.reshape(-1), (rows * width + cols[None, :])[valid], value[valid])
