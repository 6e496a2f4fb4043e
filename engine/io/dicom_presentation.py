"""From decoded stored values to modality values, VOI presets, polarity and spacing.

The order is the DICOM grayscale pipeline: modality LUT / rescale -> VOI (LUT or windows) ->
polarity (MONOCHROME1 / Presentation LUT Shape) last. VOI and polarity are kept as data on the
``Radiograph`` (presets, ``invert``) and applied by ``Radiograph.display``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut

from engine.io.grayscale import auto_window, luminance
from engine.types import FloatImage, PixelSpacing, SpacingKind, VoiFunction, VoiPreset


def to_modality_values(
    stored: npt.NDArray[np.generic], dataset: Dataset, warnings: list[str]
) -> FloatImage:
    """Stored values -> modality values as float32 ``(H, W)``; colour becomes luminance."""
    photometric = str(dataset.get("PhotometricInterpretation", "")).upper()
    array = stored
    if photometric == "PALETTE COLOR":
        array = apply_color_lut(array, dataset)
        warnings.append("palette colour image converted to grayscale luminance")
    if array.ndim == 3:
        if photometric != "PALETTE COLOR":
            warnings.append(f"{photometric or 'colour'} image converted to grayscale luminance")
        return luminance(array)
    if array.dtype.kind == "f":
        return _finite(array.astype(np.float32), warnings)
    if "ModalityLUTSequence" in dataset:
        return np.asarray(apply_modality_lut(array, dataset), dtype=np.float32)
    slope = _float_attr(dataset, "RescaleSlope", 1.0)
    intercept = _float_attr(dataset, "RescaleIntercept", 0.0)
    values = array.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def _finite(values: FloatImage, warnings: list[str]) -> FloatImage:
    finite = np.isfinite(values)
    if finite.all():
        return values
    if not finite.any():
        warnings.append("float pixel data has no finite value; shown as zeros")
        return np.zeros_like(values)
    fill = float(values[finite].min())
    warnings.append("float pixel data contains NaN or infinity; those pixels set to the minimum")
    return np.where(finite, values, np.float32(fill)).astype(np.float32)


def voi_presets(dataset: Dataset, values: FloatImage, warnings: list[str]) -> tuple[VoiPreset, ...]:
    """Every VOI the header offers (VOI LUTs first, then windows), else an automatic window."""
    presets: list[VoiPreset] = list(_voi_lut_presets(dataset, warnings))
    presets.extend(_window_presets(dataset))
    presets.append(auto_window(values))
    return tuple(presets)


def _window_presets(dataset: Dataset) -> list[VoiPreset]:
    centers = _floats(dataset.get("WindowCenter"))
    widths = _floats(dataset.get("WindowWidth"))
    explanations = _strings(dataset.get("WindowCenterWidthExplanation"))
    function = _voi_function(dataset)
    presets = []
    for index, (center, width) in enumerate(zip(centers, widths, strict=False)):
        if not (np.isfinite(center) and np.isfinite(width)) or width <= 0:
            continue
        name = explanations[index] if index < len(explanations) else f"window {index + 1}"
        presets.append(VoiPreset(name, center, width, function))
    return presets


def _voi_lut_presets(dataset: Dataset, warnings: list[str]) -> list[VoiPreset]:
    presets = []
    signed = int(dataset.get("PixelRepresentation", 0) or 0) == 1
    for index, item in enumerate(dataset.get("VOILUTSequence", ())):
        try:
            lut, first = _lut_table(item, signed)
        except (ValueError, TypeError, AttributeError, KeyError):
            warnings.append(f"VOI LUT {index + 1} is malformed and was ignored")
            continue
        explanation = str(item.get("LUTExplanation", "")).strip()
        center = first + lut.size / 2.0
        presets.append(
            VoiPreset(
                explanation or f"VOI LUT {index + 1}",
                center,
                float(lut.size),
                lut=lut,
                lut_first_mapped=first,
            )
        )
    return presets


def _lut_table(item: Dataset, signed: bool) -> tuple[npt.NDArray[np.float32], int]:
    descriptor = [int(v) for v in item.LUTDescriptor]
    entries = descriptor[0] or 65536
    first, bits = descriptor[1], descriptor[2]
    raw = item.LUTData
    if isinstance(raw, bytes | bytearray):
        dtype = np.uint8 if bits <= 8 and len(raw) == entries else np.dtype("<u2")
        table = np.frombuffer(raw, dtype=dtype)
    else:
        table = np.asarray(raw if isinstance(raw, Sequence) else [raw])
    if table.size < entries:
        raise ValueError("LUT data shorter than its descriptor")
    # The first-mapped value is read as unsigned but means a signed value for signed pixels.
    if signed and first >= 32768:
        first -= 65536
    return table[:entries].astype(np.float32), first


def is_inverted(dataset: Dataset) -> bool:
    """MONOCHROME1 or Presentation LUT Shape INVERSE: higher values display darker.

    The DX IOD pairs MONOCHROME1 with INVERSE; both describe the same inversion, so it is applied
    once, not twice.
    """
    photometric = str(dataset.get("PhotometricInterpretation", "")).upper()
    shape = str(dataset.get("PresentationLUTShape", "")).upper()
    return photometric == "MONOCHROME1" or shape == "INVERSE"


def pixel_spacing(dataset: Dataset, warnings: list[str]) -> PixelSpacing | None:
    """PixelSpacing (patient plane) if valid, else ImagerPixelSpacing (at the detector).

    Zero, negative, malformed or missing spacing means unknown: never a guessed 1 mm.
    """
    for keyword, kind in (
        ("PixelSpacing", SpacingKind.PATIENT),
        ("ImagerPixelSpacing", SpacingKind.DETECTOR),
    ):
        values = _floats(dataset.get(keyword))
        if len(values) >= 2 and all(np.isfinite(v) and v > 0 for v in values[:2]):
            if kind is SpacingKind.DETECTOR:
                warnings.append("pixel spacing is measured at the detector (magnified)")
            return PixelSpacing(values[0], values[1], kind)
        if keyword in dataset:
            warnings.append(f"{keyword} is zero or malformed; spacing treated as unknown")
    return None


def _voi_function(dataset: Dataset) -> VoiFunction:
    text = str(dataset.get("VOILUTFunction", "LINEAR")).strip().upper()
    try:
        return VoiFunction(text)
    except ValueError:
        return VoiFunction.LINEAR


def _float_attr(dataset: Dataset, keyword: str, default: float) -> float:
    values = _floats(dataset.get(keyword))
    return values[0] if values and np.isfinite(values[0]) else default


def _floats(value: object) -> list[float]:
    if value is None or value == "":
        return []
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    out = []
    for item in items:
        try:
            out.append(float(item))  # type: ignore[arg-type]  # DS/IS/str: float() decides
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def _strings(value: object) -> list[str]:
    if value is None:
        return []
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return [str(item).strip() for item in items]
