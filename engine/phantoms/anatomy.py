"""Procedural PA chest anatomy: random plausible geometry, rendered as a density image.

The renderer works in *normalised* coordinates so that any image size gives the same anatomy:
``u`` runs across the image (-0.5 image left .. 0.5 image right; the patient's right side has
``u < 0``), ``v`` runs down (0 top .. 1 bottom); one unit is the 400 mm field of view at the
default spacing. A random scale, shift and small in-plane rotation (applied as a shear) move the
patient in the field.

The output ``density`` is the X-ray path length in approximate centimetres of water-equivalent
tissue ("D units"): soft tissue adds its thickness, aerated lung removes the thickness of air it
holds, bone adds its thickness times its relative attenuation. :mod:`engine.phantoms.detector`
turns density into brightness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.phantoms.params import Region
from engine.phantoms.raster import draw_capsules, draw_spheres
from engine.phantoms.skeleton import Bands, clavicles, ribs, spine
from engine.types import FloatImage

BoolImage = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# Densities in D units per mm of projected thickness (bone: engine.phantoms.skeleton). Vessels are
# boosted over their physical attenuation (~0.08 per mm) to mimic the local-contrast processing
# (unsharp masking / equalisation) of clinical CR/DR images, which makes them conspicuous.
VESSEL_DENSITY = 0.30
BONE_REGION_THRESHOLD = 1.5  # D units of bone that make a pixel count as the bone region


@dataclass(frozen=True, slots=True)
class Anatomy:
    """Randomly drawn geometry of one patient, in normalised units (see module docstring)."""

    scale: float
    shift_u: float
    shift_v: float
    shear: float  # in-plane rotation (radians, small)
    spine_offset: float  # patient rotation about the vertical axis shifts the spine
    habitus: float  # soft-tissue thickness factor
    body_half_width: float
    apex: float  # top of the lungs
    lung_half_width: float
    lung_depth: float  # cm of air in the thickest lung
    dome_right: float  # top of the right hemidiaphragm (image left)
    dome_left: float
    heart_right: float  # lateral reach of the right heart border beyond the pedicle
    heart_left: float
    heart_center: float
    pedicle: float  # half-width of the upper mediastinum (vascular pedicle)
    aortic_knob: float
    rib_top: float
    rib_pitch: float
    hilum_right: float  # vertical position of the hila
    hilum_left: float
    gastric_bubble: bool
    breast_shadows: bool
    breast_size: float

    @staticmethod
    def sample(rng: np.random.Generator, breast_shadows: bool) -> Anatomy:
        dome_right = rng.uniform(0.68, 0.74)
        hilum_right = rng.uniform(0.41, 0.45)
        return Anatomy(
            scale=rng.uniform(0.92, 1.04),
            shift_u=rng.uniform(-0.025, 0.025),
            shift_v=rng.uniform(-0.03, 0.02),
            shear=rng.uniform(-0.035, 0.035),
            spine_offset=rng.uniform(-0.012, 0.012),
            habitus=rng.uniform(0.9, 1.15),
            body_half_width=rng.uniform(0.41, 0.46),
            apex=rng.uniform(0.12, 0.15),
            lung_half_width=rng.uniform(0.33, 0.37),
            lung_depth=rng.uniform(12.0, 15.0),
            dome_right=dome_right,
            dome_left=dome_right + rng.uniform(0.01, 0.04),
            heart_right=rng.uniform(0.05, 0.075),
            heart_left=rng.uniform(0.13, 0.17),
            heart_center=rng.uniform(0.59, 0.64),
            pedicle=rng.uniform(0.036, 0.046),
            aortic_knob=rng.uniform(0.015, 0.035),
            rib_top=rng.uniform(0.095, 0.115),
            rib_pitch=rng.uniform(0.043, 0.05),
            hilum_right=hilum_right,
            hilum_left=hilum_right - rng.uniform(0.0, 0.03),
            gastric_bubble=bool(rng.random() < 0.6),
            breast_shadows=breast_shadows,
            breast_size=rng.uniform(0.8, 1.2),
        )


@dataclass(frozen=True, slots=True, eq=False)
class RenderedAnatomy:
    """Density image and ground truth of one anatomy (all ``(S, S)``)."""

    density: FloatImage  # D units
    lung_right: BoolImage  # patient right = image left
    lung_left: BoolImage
    lung_presence: FloatImage  # 0..1, relative aerated thickness (where disease can live)
    zones: npt.NDArray[np.uint8]
    regions: npt.NDArray[np.uint8]


class Frame:
    """Pixel <-> normalised coordinate conversion of one anatomy at one size."""

    def __init__(self, anatomy: Anatomy, size: int) -> None:
        self.size = size
        self.anatomy = anatomy
        centers = (np.arange(size, dtype=np.float64) + 0.5) / size
        self.u_col = (centers - 0.5 - anatomy.shift_u) / anatomy.scale
        self.v = (centers - 0.5 - anatomy.shift_v) / anatomy.scale + 0.5
        # u at every pixel, the shear turning the patient slightly in the image plane
        self.u = (self.u_col[None, :] + anatomy.shear * (self.v[:, None] - 0.5)).astype(np.float32)

    @property
    def px_per_unit(self) -> float:
        return self.size * self.anatomy.scale

    def to_px(self, u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(row, col) pixel coordinates (pixel i covers [i, i + 1)) of normalised points."""
        a = self.anatomy
        u_col = np.asarray(u) - a.shear * (np.asarray(v) - 0.5)
        col = (u_col * a.scale + 0.5 + a.shift_u) * self.size
        row = ((np.asarray(v) - 0.5) * a.scale + 0.5 + a.shift_v) * self.size
        return row, col


def _ramp(x: FloatArray | FloatImage, width: float) -> FloatArray:
    return np.sqrt(np.clip(x / width, 0.0, 1.0))


def _mediastinum_borders(a: Anatomy, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Distance from the midline of the right (image-left) and left mediastinal borders."""
    pedicle = a.pedicle * (0.8 + 0.35 * np.clip((v - 0.15) / 0.3, 0.0, 1.0))
    heart_r = a.heart_right * _bump(v, a.heart_center - 0.17, a.heart_center, a.heart_center + 0.16)
    heart_l = a.heart_left * _bump(v, a.heart_center - 0.24, a.heart_center + 0.04, 0.86)
    knob = a.aortic_knob * np.exp(-(((v - 0.3) / 0.035) ** 2))
    trunk = 0.012 * np.exp(-(((v - 0.38) / 0.03) ** 2))  # pulmonary trunk bulge
    return pedicle + heart_r, pedicle + knob + trunk + heart_l


def _bump(v: FloatArray, top: float, peak: float, bottom: float) -> FloatArray:
    """0 above ``top``, rising smoothly to 1 at ``peak``, falling as a quarter ellipse below."""
    rise = np.sin(0.5 * np.pi * np.clip((v - top) / (peak - top), 0.0, 1.0)) ** 1.5
    fall = np.sqrt(np.clip(1.0 - ((v - peak) / (bottom - peak)) ** 2, 0.0, 1.0))
    return np.where(v < peak, rise, fall)


def _dome(a: Anatomy, u: FloatImage, side: int) -> FloatImage:
    """Row (normalised v) of the hemidiaphragm under each pixel column; side -1 right, +1 left."""
    top = a.dome_right if side < 0 else a.dome_left
    center = side * 0.17
    return (top + 1.9 * (u - center) ** 2).astype(np.float32)


def _lung(
    a: Anatomy, frame: Frame, side: int, medial: FloatArray
) -> tuple[BoolImage, FloatImage, FloatImage]:
    """Mask, aerated thickness (cm) and presence (0..1) of one lung; side -1 right, +1 left.

    Computed on the half of the image that can hold the lung (columns on its side of the
    midline), the rest stays zero.
    """
    size = frame.size
    cols = np.flatnonzero(side * frame.u_col > -0.06)
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    v64 = frame.v
    v = v64.astype(np.float32)[:, None]
    dist = side * frame.u[:, c0:c1]  # distance from the midline, lateral positive
    dome = _dome(a, frame.u[:, c0:c1], side)
    apex_center = 0.16
    grow = np.sqrt(np.clip((v64 - a.apex) / 0.3, 0.0, 1.0))
    lateral = apex_center + (a.lung_half_width - apex_center) * grow
    lateral *= 1.0 + 0.05 * np.clip((v64 - 0.4) / 0.3, 0.0, 1.0)
    top_medial = apex_center - (apex_center - 0.03) * np.clip((v64 - a.apex) / 0.09, 0, 1) ** 0.6
    med = np.maximum(medial, top_medial)
    inv_width = (1.0 / np.maximum(lateral - med, 1e-3)).astype(np.float32)[:, None]
    s = (dist - med.astype(np.float32)[:, None]) * inv_width
    across = np.sqrt(np.clip(s * np.float32(1 / 0.03), 0.0, 1.0))
    across *= np.sqrt(np.clip((1.0 - s) * np.float32(1 / 0.3), 0.0, 1.0))
    rows = (0.7 + 0.3 * np.clip((v64 - a.apex) / 0.4, 0.0, 1.0)) * _ramp(v64 - a.apex, 0.06)
    across *= rows.astype(np.float32)[:, None]
    gap = dome - v
    above_dome = gap >= 0.0
    down = np.where(
        above_dome,
        np.sqrt(np.clip(gap * np.float32(1 / 0.03), 0.0, 1.0)),
        np.float32(0.35) * np.exp(np.maximum(gap, -1.0) * np.float32(1 / 0.05)),
    )  # below the dome: the posterior costophrenic recess, fading down
    across *= down
    mask_part = (s >= 0.0) & (s <= 1.0) & above_dome & (v >= a.apex)
    mask = np.zeros((size, size), dtype=bool)
    mask[:, c0:c1] = mask_part
    presence = np.zeros((size, size), dtype=np.float32)
    presence[:, c0:c1] = across
    inside = np.zeros((size, size), dtype=np.float32)
    inside[:, c0:c1] = np.where(mask_part, across, np.float32(0.0))
    return mask, presence * np.float32(a.lung_depth), inside


def _zones(lung: BoolImage) -> npt.NDArray[np.uint8]:
    """ILO zones: thirds of the lung's height from apex to the lowest point of the dome."""
    rows = np.flatnonzero(lung.any(axis=1))
    zones = np.zeros(lung.shape, dtype=np.uint8)
    if rows.size == 0:
        return zones
    top, height = rows[0], rows[-1] - rows[0] + 1
    index = np.minimum((3 * (np.arange(lung.shape[0]) - top)) // height, 2) + 1
    zones[lung] = np.broadcast_to(index[:, None], lung.shape)[lung].astype(np.uint8)
    return zones


def _vessel_tree(
    rng: np.random.Generator, a: Anatomy, frame: Frame, side: int, lung: BoolImage
) -> tuple[FloatArray, ...]:
    """Branching pulmonary vessels from one hilum, grown one generation at a time.

    Returns normalised segment arrays (u0, v0, u1, v1, r0, r1). Branches split in two with
    Murray's law (r^3 = r1^3 + r2^3), shorten by ~25 % per generation and stop at the pleura or
    when thinner than ~1 mm, so the tree tapers toward the periphery. Lower-zone trunks are
    thicker (upright-position perfusion).
    """
    hilum_v = a.hilum_right if side < 0 else a.hilum_left
    hilum_u = side * (a.pedicle + rng.uniform(0.035, 0.05))
    angles = np.radians(np.array([-80.0, -50.0, -20.0, 10.0, 35.0, 60.0, 85.0]))
    theta = angles + np.radians(rng.uniform(-10.0, 10.0, angles.size))
    lower = np.maximum(np.sin(theta), 0.0)
    radius = 0.01 * (0.85 + 0.35 * lower) * rng.uniform(0.85, 1.15, theta.size)
    length = 0.06 * (1.0 + 0.5 * lower) * rng.uniform(0.8, 1.2, theta.size)
    # trunks leave from points spread over the hilum, not from one point (no bright star)
    offset = rng.uniform(0.006, 0.02, theta.size)
    u = hilum_u + side * np.cos(theta) * offset
    v = hilum_v + np.sin(theta) * offset * 1.5
    parts: list[list[FloatArray]] = [[], [], [], [], [], []]
    pieces = 2
    for generation in range(7):
        end_radius = radius * 0.88
        for piece in range(pieces):
            theta = theta + rng.normal(0.0, 0.12, theta.size)
            u1 = u + side * np.cos(theta) * length / pieces
            v1 = v + np.sin(theta) * length / pieces
            for store, value in zip(
                parts,
                (
                    u,
                    v,
                    u1,
                    v1,
                    radius + (end_radius - radius) * piece / pieces,
                    radius + (end_radius - radius) * (piece + 1) / pieces,
                ),
                strict=True,
            ):
                store.append(value)
            u, v = u1, v1
        rows, cols = frame.to_px(u, v)
        r_i = np.clip(rows.astype(np.int64), 0, frame.size - 1)
        c_i = np.clip(cols.astype(np.int64), 0, frame.size - 1)
        inside = lung[r_i, c_i] & (rows >= 0) & (cols >= 0) & (rows < frame.size)
        keep = inside & (end_radius >= 0.0012) & (generation < 6)
        if not np.any(keep):
            break
        u, v, theta, length, end_radius = (
            u[keep],
            v[keep],
            theta[keep],
            length[keep],
            end_radius[keep],
        )
        count = u.size
        share = rng.uniform(0.72, 0.92, count)
        spread = np.radians(rng.uniform(18.0, 34.0, count))
        flip = np.where(rng.random(count) < 0.5, 1.0, -1.0)
        major = end_radius * share
        minor = end_radius * (1.0 - share**3) ** (1.0 / 3.0)
        u = np.concatenate([u, u])
        v = np.concatenate([v, v])
        theta = np.concatenate([theta + flip * spread * 0.5, theta - flip * spread * 1.2])
        radius = np.concatenate([major, minor])
        length = np.concatenate([length, length]) * rng.uniform(0.68, 0.86, 2 * count)
    return tuple(np.concatenate(store) for store in parts)


def render_anatomy(
    a: Anatomy, size: int, spacing_mm: float, rng: np.random.Generator
) -> RenderedAnatomy:
    """Render ``a`` at ``size`` px; ``rng`` draws the fine structure (vessel branching)."""
    frame = Frame(a, size)
    v = frame.v
    u = frame.u
    px_mm = spacing_mm  # mm per px

    # Soft tissue: an elliptic cross-section whose width and thickness change down the body.
    half_width = np.interp(
        v, [0.0, 0.05, 0.09, 0.14, 0.2, 0.3, 1.0], [0.12, 0.13, 0.24, 0.42, 0.5, 0.5, 0.47]
    ) * (a.body_half_width / 0.44)
    thickness = np.interp(v, [0.0, 0.08, 0.2, 0.5, 1.0], [11.0, 12.0, 20.0, 22.0, 23.0]) * a.habitus
    r2 = (u / half_width[:, None].astype(np.float32)) ** 2
    body = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)) * thickness[:, None].astype(np.float32)
    density = body.astype(np.float32)

    right_border, left_border = _mediastinum_borders(a, v)
    lung_right, air_right, pres_right = _lung(a, frame, -1, right_border + 0.006)
    lung_left, air_left, pres_left = _lung(a, frame, 1, left_border + 0.006)
    density -= air_right
    density -= air_left
    # Retrocardiac lung: air behind the heart keeps the heart less dense than the abdomen.
    heart = np.clip(1.0 - ((v - a.heart_center) / 0.16) ** 2, 0.0, 1.0)
    behind_air = (0.12 + 0.2 * heart) * _ramp(v - a.apex, 0.1) * a.lung_depth
    behind = (u > -(right_border + 0.007)[:, None]) & (u < (left_border + 0.007)[:, None])
    above = v[:, None] <= _dome(a, u, 1)
    density -= np.where(behind & above, behind_air[:, None], 0.0).astype(np.float32)
    presence = pres_right + pres_left

    # Airways and gastric bubble: air inside the soft tissue.
    air = np.zeros((size, size), dtype=np.float32)
    carina_v = a.hilum_right - 0.1
    spine_u = a.spine_offset
    trachea_r = 0.011 * frame.px_per_unit
    pts_u = np.array([spine_u, spine_u + 0.004, -0.075, spine_u + 0.004, 0.085])
    pts_v = np.array([0.0, carina_v, carina_v + 0.07, carina_v, carina_v + 0.075])
    rows, cols = frame.to_px(pts_u, pts_v)
    draw_capsules(
        air,
        (rows[[0, 1, 3]], cols[[0, 1, 3]]),
        (rows[[1, 2, 4]], cols[[1, 2, 4]]),
        np.array([trachea_r, trachea_r * 0.85, trachea_r * 0.85]),
        np.array([trachea_r, trachea_r * 0.6, trachea_r * 0.6]),
        0.3 * px_mm,
    )
    if a.gastric_bubble:
        row, col = frame.to_px(np.array([0.2]), np.array([a.dome_left + 0.035]))
        draw_spheres(air, row, col, np.array([0.028 * size]), 0.1 * px_mm * 0.8, aspect=1.6)
    density -= air

    bone = np.zeros((size, size), dtype=np.float32)
    spine(bone, a, frame, px_mm)
    bands = Bands(frame)
    ribs(bands, a, px_mm)
    clavicles(bands, a, px_mm)
    bands.draw(bone)
    bone *= (body > 0.0).astype(np.float32)
    density += bone

    lungs = lung_right | lung_left
    vessels = np.zeros((size, size), dtype=np.float32)
    trees = [
        _vessel_tree(rng, a, frame, side, lung) for side, lung in ((-1, lung_right), (1, lung_left))
    ]
    u0, v0, u1, v1, r0, r1 = (np.concatenate(parts) for parts in zip(*trees, strict=True))
    to_px = frame.px_per_unit
    draw_capsules(
        vessels,
        frame.to_px(u0, v0),
        frame.to_px(u1, v1),
        r0 * to_px,
        r1 * to_px,
        VESSEL_DENSITY * px_mm,
    )
    density += vessels * np.minimum(presence * 1.6, 1.0)

    if a.breast_shadows:
        _breasts(density, a, frame)

    np.maximum(density, 0.0, out=density)

    inside_heights = (v >= a.apex - 0.02)[:, None] & (v[:, None] <= _dome(a, u, 1) + 0.04)
    mediastinum = (u > -right_border[:, None]) & (u < left_border[:, None]) & inside_heights
    regions = np.full((size, size), Region.SOFT_TISSUE, dtype=np.uint8)
    regions[body <= 0.5] = Region.AIR
    regions[mediastinum & ~lungs] = Region.MEDIASTINUM
    regions[(bone > BONE_REGION_THRESHOLD) & ~lungs & ~mediastinum] = Region.BONE
    regions[lungs] = Region.LUNG
    zones = _zones(lung_right) + _zones(lung_left)
    return RenderedAnatomy(
        density=density,
        lung_right=lung_right,
        lung_left=lung_left,
        lung_presence=np.clip(presence, 0.0, 1.0),
        zones=zones.astype(np.uint8),
        regions=regions,
    )


def _breasts(density: FloatImage, a: Anatomy, frame: Frame) -> None:
    """Breast shadows: soft-tissue mounds over the lower lung fields, sharp inferior margin."""
    for side in (-1, 1):
        center_u, center_v = side * 0.22, a.dome_right - 0.07
        ru, rv = 0.17 * a.breast_size, 0.13 * a.breast_size
        r2 = ((frame.u - center_u) / ru) ** 2 + ((frame.v[:, None] - center_v) / rv) ** 2
        upper = np.clip((frame.v[:, None] - (center_v - rv)) / (1.4 * rv), 0.0, 1.0)
        density += (4.0 * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)) * upper).astype(np.float32)
