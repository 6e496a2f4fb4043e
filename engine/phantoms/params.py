"""Parameters and results of the phantom generator: frozen dataclasses, validated on construction.

Geometry conventions (every phantom module follows them):
- Images are square ``(size, size)`` float32 in ``[0, 1]``, 1 = brightest (bone, mediastinum),
  lungs dark, as a processed PA chest radiograph is displayed.
- Radiological left/right: the patient's *right* lung is on the *image left*. ``lung_right`` is
  the patient's right lung (image left), ``lung_left`` the patient's left lung (image right).
- Pixel spacing defaults to ``400 / size`` mm (a ~40 cm field of view), 0.78 mm at 512 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import numpy as np
import numpy.typing as npt

from engine.types import FloatImage

GENERATOR_VERSION = "1.0"
FIELD_OF_VIEW_MM = 400.0
MIN_SIZE = 32
MAX_SIZE = 4096


class IloType(StrEnum):
    """ILO shape/size of small rounded opacities (diameter limits in :data:`ILO_SIZE_MM`)."""

    P = "p"
    Q = "q"
    R = "r"


# ILO 2011: p up to 1.5 mm, q 1.5-3 mm, r 3-10 mm diameter. p has no lower limit in the
# classification; we draw p from 0.5 mm up (smaller would not be visible on any radiograph).
ILO_SIZE_MM: dict[IloType, tuple[float, float]] = {
    IloType.P: (0.5, 1.5),
    IloType.Q: (1.5, 3.0),
    IloType.R: (3.0, 10.0),
}


class LargeOpacity(StrEnum):
    """ILO large opacity category: none, A (<= 50 mm summed), B (> A, <= right upper zone), C."""

    NONE = "0"
    A = "A"
    B = "B"
    C = "C"


class Label(StrEnum):
    """Class label of a phantom image (also the class folder name of a data set)."""

    HEALTHY = "healthy"
    PNEUMOCONIOSIS = "pneumoconiosis"


class ForeignObject(StrEnum):
    """Non-anatomical objects that a translation must leave untouched."""

    ECG_LEADS = "ecg_leads"
    WIRES = "wires"
    PACEMAKER = "pacemaker"


class Zone(IntEnum):
    """Values of the zone map: ILO zones split each lung's height (apex to dome) in thirds."""

    OUTSIDE = 0
    UPPER = 1
    MIDDLE = 2
    LOWER = 3


class Region(IntEnum):
    """Values of the anatomical region map (used for the realism statistics)."""

    AIR = 0  # outside the body
    SOFT_TISSUE = 1  # chest wall, neck, abdomen below the domes
    LUNG = 2
    MEDIASTINUM = 3  # mediastinum and heart between the lungs, above the domes
    BONE = 4  # clavicles, humeral heads and spine outside the lungs


ZoneWeights = tuple[tuple[float, float, float], tuple[float, float, float]]
# (patient right lung, patient left lung) x (upper, middle, lower). ILO: silicosis and coal
# workers' pneumoconiosis typically start in, and predominate in, the upper zones.
UPPER_ZONE_PREDOMINANCE: ZoneWeights = ((1.0, 0.6, 0.25), (1.0, 0.6, 0.25))
UNIFORM_ZONES: ZoneWeights = ((1.0, 1.0, 1.0), (1.0, 1.0, 1.0))


def default_spacing_mm(size: int) -> float:
    """Pixel spacing in mm of a ``size`` px phantom: a 400 mm field of view."""
    return FIELD_OF_VIEW_MM / float(size)


def _check_finite(name: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


@dataclass(frozen=True, slots=True)
class DiseaseParams:
    """Pneumoconiosis as separable, switchable changes (ILO classification terms).

    ``profusion``: ILO major category 0-3 of small rounded opacities (0 = none).
    ``opacity_type``: ILO size class p / q / r of the small opacities.
    ``nodules``: draw the small opacities at all (False: "brightness only" data sets).
    ``zone_weights``: relative profusion per (right, left) lung and (upper, middle, lower) zone;
    the zone with the largest weight gets the stated category.
    ``haze``: fraction of lung air replaced by denser tissue (0 = off, 0.3 = strong diffuse
    brightening of the lung fields).
    ``large_opacity``: ILO large opacity category (progressive massive fibrosis).
    ``opacity_density``: contrast multiplier of the opacities (1 = the documented default).
    """

    profusion: int = 0
    opacity_type: IloType = IloType.Q
    nodules: bool = True
    zone_weights: ZoneWeights = UPPER_ZONE_PREDOMINANCE
    haze: float = 0.0
    large_opacity: LargeOpacity = LargeOpacity.NONE
    opacity_density: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.profusion, bool) or self.profusion not in (0, 1, 2, 3):
            raise ValueError(f"profusion must be an ILO category 0-3, got {self.profusion!r}")
        try:
            object.__setattr__(self, "opacity_type", IloType(self.opacity_type))
        except ValueError:
            raise ValueError(
                f"opacity_type must be one of p, q, r, got {self.opacity_type!r}"
            ) from None
        try:
            object.__setattr__(self, "large_opacity", LargeOpacity(self.large_opacity))
        except ValueError:
            raise ValueError(
                f"large_opacity must be one of 0, A, B, C, got {self.large_opacity!r}"
            ) from None
        weights = np.asarray(self.zone_weights, dtype=float)
        if weights.shape != (2, 3) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("zone_weights must be 2 x 3 non-negative numbers (lung x zone)")
        if self.profusion > 0 and self.nodules and not np.any(weights > 0):
            raise ValueError("zone_weights must have a positive weight when profusion > 0")
        object.__setattr__(
            self, "zone_weights", tuple(tuple(float(w) for w in row) for row in weights)
        )
        _check_finite("haze", self.haze, 0.0, 0.8)
        _check_finite("opacity_density", self.opacity_density, 0.0, 20.0)

    @property
    def is_diseased(self) -> bool:
        """True when any disease component adds intensity."""
        return (
            (self.nodules and self.profusion > 0)
            or self.haze > 0.0
            or self.large_opacity is not LargeOpacity.NONE
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "profusion": self.profusion,
            "opacity_type": str(self.opacity_type),
            "nodules": self.nodules,
            "zone_weights": [list(row) for row in self.zone_weights],
            "haze": self.haze,
            "large_opacity": str(self.large_opacity),
            "opacity_density": self.opacity_density,
        }


@dataclass(frozen=True, slots=True)
class PhantomParams:
    """Everything that determines one phantom; equal params give identical pixels.

    ``seed``: the anatomy, the disease placement, foreign objects and noise come from separate
    streams of this seed, so switching the disease on or off leaves anatomy and noise unchanged.
    ``size``: image side in px. ``spacing_mm``: pixel spacing (None: ``400 / size``).
    ``noise_level``: quantum noise relative to the documented default (0 = noiseless).
    """

    seed: int = 0
    size: int = 512
    spacing_mm: float | None = None
    disease: DiseaseParams = field(default_factory=DiseaseParams)
    foreign_objects: frozenset[ForeignObject] = frozenset()
    breast_shadows: bool = False
    noise_level: float = 1.0
    detector_blur: bool = True
    exposure_variation: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        object.__setattr__(self, "seed", int(self.seed))
        if isinstance(self.size, bool) or not isinstance(self.size, int | np.integer):
            raise ValueError(f"size must be an integer, got {self.size!r}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be in [{MIN_SIZE}, {MAX_SIZE}] px, got {self.size}")
        object.__setattr__(self, "size", int(self.size))
        if self.spacing_mm is not None:
            _check_finite("spacing_mm", self.spacing_mm, 0.01, 20.0)
        if not isinstance(self.disease, DiseaseParams):
            raise ValueError(f"disease must be DiseaseParams, got {type(self.disease).__name__}")
        try:
            objects = frozenset(ForeignObject(item) for item in self.foreign_objects)
        except (ValueError, TypeError):
            names = ", ".join(item.value for item in ForeignObject)
            raise ValueError(
                f"foreign_objects must be a set of {names}, got {self.foreign_objects!r}"
            ) from None
        object.__setattr__(self, "foreign_objects", objects)
        _check_finite("noise_level", self.noise_level, 0.0, 10.0)

    @property
    def resolved_spacing_mm(self) -> float:
        """The pixel spacing in mm actually used."""
        if self.spacing_mm is None:
            return default_spacing_mm(self.size)
        return float(self.spacing_mm)

    @property
    def label(self) -> Label:
        return Label.PNEUMOCONIOSIS if self.disease.is_diseased else Label.HEALTHY

    def as_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "size": self.size,
            "spacing_mm": self.resolved_spacing_mm,
            "disease": self.disease.as_dict(),
            "foreign_objects": sorted(str(item) for item in self.foreign_objects),
            "breast_shadows": self.breast_shadows,
            "noise_level": self.noise_level,
            "detector_blur": self.detector_blur,
            "exposure_variation": self.exposure_variation,
            "label": str(self.label),
        }


@dataclass(frozen=True, slots=True, eq=False)
class Phantom:
    """One generated radiograph with its ground truth. All arrays are read-only.

    ``image``: ``(S, S)`` float32 in ``[0, 1]``: the radiograph as labelled (with disease when
    ``params.disease.is_diseased``), with detector blur and noise.
    ``healthy_image``: the same anatomy, exposure and noise without the disease.
    ``lesion_map``: float32, the intensity the disease added: ``image - healthy_image`` (equal to
    within float32 rounding, 1e-6; the noise realisation is shared, so it cancels).
    ``lung_right`` / ``lung_left``: bool masks of the patient's right (image left) and left lung.
    ``zones``: uint8, :class:`Zone` values (0 outside the lungs, 1-3 upper/middle/lower).
    ``regions``: uint8, :class:`Region` values (anatomical compartments for statistics).
    ``foreign_mask``: bool, pixels covered by foreign objects.
    ``opacities``: ``(N, 3)`` float32 rows of (row px, column px, diameter mm) of the small
    opacities drawn.
    """

    image: FloatImage
    healthy_image: FloatImage
    lesion_map: FloatImage
    lung_left: npt.NDArray[np.bool_]
    lung_right: npt.NDArray[np.bool_]
    zones: npt.NDArray[np.uint8]
    regions: npt.NDArray[np.uint8]
    foreign_mask: npt.NDArray[np.bool_]
    opacities: npt.NDArray[np.float32]
    params: PhantomParams
    label: Label
    spacing_mm: float

    @property
    def lungs(self) -> npt.NDArray[np.bool_]:
        """Union of both lung masks."""
        return self.lung_left | self.lung_right
