"""Pneumoconiosis as separable density changes inside the lungs (ILO classification terms).

Three independent parts, each switchable (see :class:`DiseaseParams`):

- small rounded opacities: projected spheres whose diameters follow the ILO size class
  (p < 1.5 mm, q 1.5-3 mm, r 3-10 mm) at the stated pixel spacing, placed per lung and zone with
  a density (opacities per cm^2 of lung) set by the profusion category;
- diffuse haze: a fraction of the lung's air replaced by denser tissue (overall brightening);
- large opacities (ILO A / B / C): conglomerate masses in the upper zones.

The ILO classification defines profusion by comparison with its standard films, not by counts;
the counts below are our calibration, chosen so that categories are clearly ordered and the
images look like the standard films at a glance. They are approximate.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.phantoms.anatomy import RenderedAnatomy
from engine.phantoms.params import ILO_SIZE_MM, DiseaseParams, IloType, LargeOpacity
from engine.phantoms.raster import draw_spheres
from engine.types import FloatImage

# Opacities per cm^2 of lung in a zone of weight 1, per profusion category (q type). The ranges
# do not overlap, so a higher category always means more opacities.
PROFUSION_PER_CM2: dict[int, tuple[float, float]] = {
    0: (0.0, 0.0),
    1: (0.5, 1.0),
    2: (1.4, 2.2),
    3: (3.0, 4.5),
}
# Smaller opacities are more numerous at the same category, larger ones fewer.
TYPE_COUNT_FACTOR: dict[IloType, float] = {IloType.P: 1.6, IloType.Q: 1.0, IloType.R: 0.3}
# Contrast per type, so that one profusion category looks as abnormal for every type: the ILO
# grades profusion by what the reader sees on the standard films, whatever the size. Projected
# spheres alone made a p finding of profusion 3 invisible (its texture energy in the lungs was
# 4-10 % of the healthy lung texture's at 256-1024 px, where q reaches 28-54 %); 4.5 brings p to
# q's level at 512 px (docs/phantoms.md; tests/engine/test_phantom_disease.py guards it).
TYPE_CONTRAST_FACTOR: dict[IloType, float] = {IloType.P: 4.5, IloType.Q: 1.0, IloType.R: 1.0}
# D units per mm of projected opacity thickness (boosted over the ~0.13 of dense nodular tissue
# replacing air, for the same reason as bone and vessels: processed images show them clearly).
NODULE_DENSITY = 0.55
LARGE_OPACITY_DENSITY = 0.6
# Summed diameters (mm) of the large opacities per ILO category.
LARGE_SUM_MM: dict[LargeOpacity, tuple[float, float]] = {
    LargeOpacity.A: (15.0, 45.0),
    LargeOpacity.B: (60.0, 90.0),
    LargeOpacity.C: (110.0, 150.0),
}


def sample_diameters(
    rng: np.random.Generator, opacity_type: IloType, count: int
) -> npt.NDArray[np.float64]:
    """Diameters in mm of ``count`` opacities of an ILO type (log-uniform within its limits)."""
    low, high = ILO_SIZE_MM[opacity_type]
    return np.exp(rng.uniform(math.log(low), math.log(high), count))


def render_disease(
    anatomy: RenderedAnatomy,
    disease: DiseaseParams,
    rng: np.random.Generator,
    spacing_mm: float,
    lung_depth_cm: float,
) -> tuple[FloatImage, npt.NDArray[np.float32]]:
    """Lesion density (D units, ``(S, S)`` float32) and the opacities (row, col, diameter mm).

    The lesion lies inside the lungs and never replaces more than the air the lung holds.
    """
    size = anatomy.zones.shape[0]
    lesion = np.zeros((size, size), dtype=np.float32)
    opacities = np.zeros((0, 3), dtype=np.float32)
    if disease.nodules and disease.profusion > 0:
        opacities = _place_opacities(anatomy, disease, rng, spacing_mm)
        radii_px = opacities[:, 2].astype(np.float64) / 2.0 / spacing_mm
        draw_spheres(
            lesion,
            opacities[:, 0],
            opacities[:, 1],
            radii_px,
            NODULE_DENSITY
            * TYPE_CONTRAST_FACTOR[disease.opacity_type]
            * disease.opacity_density
            * spacing_mm,
        )
    if disease.large_opacity is not LargeOpacity.NONE:
        _large_opacities(lesion, anatomy, disease.large_opacity, rng, spacing_mm)
    lungs = anatomy.lung_right | anatomy.lung_left
    air = anatomy.lung_presence * np.float32(lung_depth_cm)
    if disease.haze > 0.0:
        lesion += air * np.float32(disease.haze)
    np.minimum(lesion, air * np.float32(0.9), out=lesion)
    lesion *= lungs
    return lesion, opacities


def _place_opacities(
    anatomy: RenderedAnatomy, disease: DiseaseParams, rng: np.random.Generator, spacing_mm: float
) -> npt.NDArray[np.float32]:
    low, high = PROFUSION_PER_CM2[disease.profusion]
    per_cm2 = rng.uniform(low, high) * TYPE_COUNT_FACTOR[disease.opacity_type]
    weights = np.asarray(disease.zone_weights, dtype=np.float64)
    weights = weights / weights.max()
    cm2_per_px = (spacing_mm / 10.0) ** 2
    width = anatomy.zones.shape[1]
    rows_out: list[npt.NDArray[np.float64]] = []
    cols_out: list[npt.NDArray[np.float64]] = []
    for lung_index, lung in enumerate((anatomy.lung_right, anatomy.lung_left)):
        flat = np.flatnonzero(lung)
        zone_of = anatomy.zones.ravel()[flat]
        for zone_index in range(3):
            pixels = flat[zone_of == zone_index + 1]
            expected = per_cm2 * weights[lung_index, zone_index] * pixels.size * cm2_per_px
            count = round(expected)
            if count == 0 or pixels.size == 0:
                continue
            chosen = pixels[rng.integers(0, pixels.size, count)]
            jitter = rng.random((2, count))
            rows_out.append(chosen // width + jitter[0])
            cols_out.append(chosen % width + jitter[1])
    if not rows_out:
        return np.zeros((0, 3), dtype=np.float32)
    rows = np.concatenate(rows_out)
    cols = np.concatenate(cols_out)
    diameters = sample_diameters(rng, disease.opacity_type, rows.size)
    return np.stack([rows, cols, diameters], axis=1).astype(np.float32)


def _large_opacities(
    lesion: FloatImage,
    anatomy: RenderedAnatomy,
    category: LargeOpacity,
    rng: np.random.Generator,
    spacing_mm: float,
) -> None:
    """Conglomerate masses in the upper zones: clusters of overlapping spheres."""
    low, high = LARGE_SUM_MM[category]
    total_mm = rng.uniform(low, high)
    lungs = (anatomy.lung_right, anatomy.lung_left)
    sides = (
        [0, 1] if category is not LargeOpacity.A or rng.random() < 0.5 else [int(rng.integers(2))]
    )
    width = anatomy.zones.shape[1]
    for side in sides:
        diameter_px = total_mm / len(sides) / spacing_mm
        target = np.flatnonzero(lungs[side] & (anatomy.zones <= 2) & (anatomy.zones > 0))
        if target.size == 0:
            continue
        upper = np.flatnonzero(lungs[side] & (anatomy.zones == 1))
        pool = upper if upper.size else target
        center = pool[rng.integers(pool.size)]
        row = center // width + diameter_px * 0.25
        col = float(center % width)
        lobes = 7
        angles = rng.uniform(0.0, 2.0 * math.pi, lobes)
        offsets = rng.uniform(0.0, 0.3, lobes) * diameter_px
        radii = diameter_px * rng.uniform(0.25, 0.4, lobes)
        draw_spheres(
            lesion,
            row + offsets * np.sin(angles),
            col + offsets * np.cos(angles),
            radii,
            LARGE_OPACITY_DENSITY * spacing_mm * 2.0 / lobes,
            aspect=rng.uniform(1.0, 1.5, lobes),
        )
