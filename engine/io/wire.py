"""A ``Radiograph`` across the decoder-process boundary: a JSON description plus raw pixel bytes.

The decoder process (``engine.io.decode_worker``) reads a whole DICOM file: header, codec,
modality values, VOI presets. What it sends back is data only (never a pickle), and the parent
trusts none of it: every field is type- and range-checked here, the pixels must be exactly
``rows x columns`` float32 within the pixel budget. Anything else raises ``ValueError``, which the
caller reports as a malformed reply.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from typing import Any

import numpy as np

from engine.types import (
    ImageInfo,
    PatientIdentity,
    PixelSpacing,
    Radiograph,
    SourceFormat,
    SpacingKind,
    VoiFunction,
    VoiPreset,
    readonly,
)

PIXEL_DTYPE = np.dtype("<f4")
LUT_DTYPE = np.dtype("<f4")
#: Largest description a reply may carry. VOI LUTs travel as base64 strings (~350 KB each at
#: 65536 entries), so a megabyte-scale description is plenty, and parsing a hostile one (JSON
#: expands in memory about 25-fold) stays small.
MAX_DESCRIPTION_BYTES = 4 * 1024 * 1024
# Bounds on the fields (a DICOM string element is at most 64 KB; a VOI LUT has at most 65536
# 16-bit entries); a reply beyond them is malformed, not just large.
_MAX_TEXT = 65_536
_MAX_ITEMS = 256
_MAX_IDENTITY_PAIRS = 64
_MAX_IDENTITY_TEXT = 16_384
_MAX_LUT_ENTRIES = 65_536
_LUT_FIRST_RANGE = (-65_536, 65_535)  # first mapped value: US or SS
_BITS_RANGE = (1, 64)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def encode(radiograph: Radiograph) -> tuple[dict[str, Any], memoryview]:
    """The description (JSON-ready) and the pixel bytes of ``radiograph``."""
    description = {
        "presets": [_preset(p) for p in radiograph.presets],
        "invert": radiograph.invert,
        "info": dataclasses.asdict(radiograph.info),  # enumerations are str: JSON writes values
        "identity": [list(pair) for pair in radiograph.identity.fields],
        "warnings": list(radiograph.warnings),
    }
    pixels = np.ascontiguousarray(radiograph.pixels, dtype=PIXEL_DTYPE)
    return description, pixels.reshape(-1).view(np.uint8).data


def payload_limit(max_pixels: int) -> int:
    """The largest pixel payload a reply may carry under a pixel budget of ``max_pixels``."""
    return max_pixels * PIXEL_DTYPE.itemsize


def decode(description: Any, payload: bytes, max_pixels: int) -> Radiograph:
    """Rebuild and check a ``Radiograph`` (``ValueError`` when anything is off)."""
    try:
        return _decode(_mapping(description), payload, max_pixels)
    except (KeyError, TypeError, OverflowError) as error:
        raise ValueError(f"malformed description ({type(error).__name__})") from None


def _decode(description: dict[str, Any], payload: bytes, max_pixels: int) -> Radiograph:
    info = _info(_mapping(description["info"]))
    if info.rows * info.columns > max_pixels:
        raise ValueError("image exceeds the pixel budget")
    if len(payload) != info.rows * info.columns * PIXEL_DTYPE.itemsize:
        raise ValueError("payload length does not match rows x columns")
    # frombuffer over bytes is read-only already, as a Radiograph's pixels must be.
    pixels = np.frombuffer(payload, dtype=PIXEL_DTYPE).reshape(info.rows, info.columns)
    if not np.isfinite(pixels).all():  # the loader replaces non-finite values; a reply must too
        raise ValueError("non-finite pixel values")
    presets = tuple(_read_preset(_mapping(p)) for p in _items(description["presets"]))
    if not presets:
        raise ValueError("no VOI preset")
    pairs = tuple(_pair(item) for item in _items(description["identity"], _MAX_IDENTITY_PAIRS))
    return Radiograph(
        pixels=readonly(pixels),
        presets=presets,
        invert=_bool(description["invert"]),
        info=info,
        identity=PatientIdentity(pairs),
        warnings=tuple(_text(w) for w in _items(description["warnings"])),
    )


def _preset(preset: VoiPreset) -> dict[str, Any]:
    return {
        "name": preset.name,
        "center": preset.center,
        "width": preset.width,
        "function": preset.function.value,
        "lut": None if preset.lut is None else _lut_text(preset.lut),
        "lut_first_mapped": preset.lut_first_mapped,
    }


def _lut_text(lut: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(lut, dtype=LUT_DTYPE).tobytes()).decode("ascii")


def _read_lut(value: Any) -> np.ndarray:
    text = _text(value, (_MAX_LUT_ENTRIES * LUT_DTYPE.itemsize * 4) // 3 + 4)
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError("VOI LUT is not base64") from error
    if not data or len(data) % LUT_DTYPE.itemsize:
        raise ValueError("VOI LUT length is not a whole number of entries")
    lut = np.frombuffer(data, dtype=LUT_DTYPE)
    if not np.isfinite(lut).all():
        raise ValueError("VOI LUT holds a non-finite value")
    return readonly(lut.astype(np.float32))


def _read_preset(item: dict[str, Any]) -> VoiPreset:
    width = _finite(item["width"])
    if width <= 0:
        raise ValueError("window width must be positive")
    return VoiPreset(
        name=_text(item["name"]),
        center=_finite(item["center"]),
        width=width,
        function=VoiFunction(_text(item["function"])),
        lut=None if item["lut"] is None else _read_lut(item["lut"]),
        lut_first_mapped=_int(item["lut_first_mapped"], _LUT_FIRST_RANGE),
    )


def _info(item: dict[str, Any]) -> ImageInfo:
    rows, columns = _int(item["rows"]), _int(item["columns"])
    if rows <= 0 or columns <= 0:
        raise ValueError("image size must be positive")
    spacing = item["spacing"]
    return ImageInfo(
        source_format=SourceFormat(_text(item["source_format"])),
        rows=rows,
        columns=columns,
        modality=_optional_text(item["modality"]),
        photometric_interpretation=_optional_text(item["photometric_interpretation"]),
        transfer_syntax=_optional_text(item["transfer_syntax"]),
        transfer_syntax_uid=_optional_text(item["transfer_syntax_uid"]),
        bits_stored=None if item["bits_stored"] is None else _int(item["bits_stored"], _BITS_RANGE),
        number_of_frames=_int(item["number_of_frames"], (1, 2**31)),
        spacing=None if spacing is None else _spacing(spacing),
        view_position=_optional_text(item["view_position"]),
        manufacturer=_optional_text(item["manufacturer"]),
        sop_class_uid=_optional_uid(item.get("sop_class_uid")),
    )


def _optional_uid(value: Any) -> str | None:
    """A DICOM UID: digits and dots, at most 64 characters (PS3.5 9.1)."""
    if value is None:
        return None
    text = _text(value, 64)
    if not text or not all(c.isdigit() or c == "." for c in text):
        raise ValueError("malformed UID")
    return text


def _spacing(value: Any) -> PixelSpacing:
    item = _mapping(value)
    row, column = _finite(item["row_mm"]), _finite(item["column_mm"])
    if row <= 0 or column <= 0:
        raise ValueError("pixel spacing must be positive")
    return PixelSpacing(row, column, SpacingKind(_text(item["kind"])))


def _pair(value: Any) -> tuple[str, str]:
    items = _items(value, 2)
    if len(items) != 2:
        raise ValueError("identity entries are (name, value) pairs")
    return _text(items[0], 64), _text(items[1], _MAX_IDENTITY_TEXT)


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return value


def _items(value: Any, limit: int = _MAX_ITEMS) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise TypeError("expected a bounded list")
    return value


def _text(value: Any, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise TypeError("expected a bounded string")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _int(value: Any, bounds: tuple[int, int] = (0, 2**31)) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError("integer out of range")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _finite(value: Any) -> float:
    """A number that stays finite in float32 (the precision the display math uses)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError("expected a finite number")
    if abs(value) > _FLOAT32_MAX:
        raise ValueError("number beyond float32 range")
    return float(value)
