"""Values that cross the engine boundary: frozen dataclasses of read-only numpy arrays.

Conventions (every module follows them):
- Images are row-major ``(H, W)`` arrays, ``float32`` unless stated, marked read-only.
- ``Radiograph.pixels`` hold *modality values* (stored values after the modality LUT / rescale),
  so a pixel readout shows what the DICOM means. What the user sees is ``Radiograph.display()``:
  VOI (window or VOI LUT) first, polarity (MONOCHROME1 / Presentation LUT Shape) last, giving
  ``[0, 1]`` where 1 is brightest, i.e. densest tissue (bone bright, lungs dark).
- Patient-identifying fields live only in ``PatientIdentity``; everything else is display-safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatImage = npt.NDArray[np.float32]


def readonly(array: npt.NDArray) -> npt.NDArray:
    """Return ``array`` marked read-only (no copy), so a shared value cannot be mutated."""
    array.setflags(write=False)
    return array


class SourceFormat(StrEnum):
    DICOM = "dicom"
    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"


class VoiFunction(StrEnum):
    """DICOM VOI LUT Function (C.11.2.1.3)."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


class SpacingKind(StrEnum):
    """What a pixel spacing measures."""

    PATIENT = "patient"  # PixelSpacing: calibrated in the patient plane
    DETECTOR = "detector"  # ImagerPixelSpacing: at the detector, magnified relative to the patient


@dataclass(frozen=True, slots=True)
class PixelSpacing:
    """Physical size of one pixel in millimetres (row = vertical, column = horizontal)."""

    row_mm: float
    column_mm: float
    kind: SpacingKind


@dataclass(frozen=True, slots=True, eq=False)
class VoiPreset:
    """One way to map modality values to display brightness ``[0, 1]`` (before polarity).

    Either a window (``center``/``width`` with ``function``) or a VOI LUT table (``lut`` with
    ``lut_first_mapped``; input values below/above the table clamp to its ends).
    """

    name: str
    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR
    lut: npt.NDArray[np.float32] | None = None
    lut_first_mapped: int = 0

    def apply(self, values: FloatImage) -> FloatImage:
        """Map modality values to ``[0, 1]`` float32 with this preset."""
        if self.lut is not None:
            return _apply_lut(values, self.lut, self.lut_first_mapped)
        return apply_window(values, self.center, self.width, self.function)

    def with_window(self, center: float, width: float) -> VoiPreset:
        """A user-adjusted window derived from this preset (the LUT, if any, is dropped)."""
        return VoiPreset("user", float(center), max(float(width), 1e-6), self.function)


def apply_window(
    values: FloatImage, center: float, width: float, function: VoiFunction
) -> FloatImage:
    """DICOM PS3.3 C.11.2.1.2 window, scaled to ``[0, 1]`` float32."""
    if function is VoiFunction.SIGMOID:
        out = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / max(width, 1e-6)))
        return out.astype(np.float32, copy=False)
    if function is VoiFunction.LINEAR_EXACT:
        low, span = center - width / 2.0, max(width, 1e-6)
    else:  # LINEAR: the standard's -0.5 / -1 offsets
        low, span = center - 0.5 - (width - 1.0) / 2.0, max(width - 1.0, 1e-6)
    out = (values - np.float32(low)) * np.float32(1.0 / span)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def _apply_lut(values: FloatImage, lut: npt.NDArray[np.float32], first: int) -> FloatImage:
    index = np.clip(np.rint(values) - first, 0, lut.size - 1).astype(np.intp)
    low, high = float(lut.min()), float(lut.max())
    scale = 1.0 / (high - low) if high > low else 0.0
    return ((lut[index] - low) * scale).astype(np.float32, copy=False)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """Display-safe description of a loaded image. No patient-identifying field lives here."""

    source_format: SourceFormat
    rows: int
    columns: int
    modality: str | None = None
    photometric_interpretation: str | None = None
    transfer_syntax: str | None = None
    transfer_syntax_uid: str | None = None
    bits_stored: int | None = None
    number_of_frames: int = 1
    spacing: PixelSpacing | None = None
    view_position: str | None = None
    manufacturer: str | None = None
    # The source's SOP class (a DICOM result references it); not identifying.
    sop_class_uid: str | None = None


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """Patient- and study-identifying fields, kept apart so exports can leave them out."""

    fields: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

    def values(self) -> tuple[str, ...]:
        """Every identifying string (for privacy checks of outputs)."""
        return tuple(value for _, value in self.fields if value)


@dataclass(frozen=True, slots=True, eq=False)
class Radiograph:
    """One loaded radiograph.

    ``pixels``: ``(H, W)`` float32, read-only, modality values (see module docstring).
    ``presets``: non-empty; ``presets[0]`` is the default display.
    ``invert``: True when polarity is reversed (MONOCHROME1 or Presentation LUT Shape INVERSE):
    higher modality values then display darker.
    ``warnings``: one-line, display-safe notes about what the loader had to assume or convert.
    """

    pixels: FloatImage
    presets: tuple[VoiPreset, ...]
    invert: bool
    info: ImageInfo
    identity: PatientIdentity = field(default_factory=PatientIdentity)
    warnings: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))

    def display(self, preset: VoiPreset | None = None) -> FloatImage:
        """Presentation image in ``[0, 1]`` (1 = brightest): VOI first, polarity last."""
        voi = (preset or self.presets[0]).apply(self.pixels)
        if self.invert:
            voi = np.subtract(np.float32(1.0), voi, dtype=np.float32)
        return voi
