"""PNG, JPEG and TIFF -> ``Radiograph`` through Pillow, with a decompression-bomb guard."""

from __future__ import annotations

import warnings as warnings_module
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from engine.errors import CorruptFileError, ImageTooLargeError
from engine.io.grayscale import auto_window, luminance
from engine.io.limits import DecodeBudget
from engine.types import FloatImage, ImageInfo, Radiograph, SourceFormat, VoiFunction, VoiPreset
from engine.types import readonly as make_readonly

_GRAY_MODES = {"L", "I;16", "I;16L", "I;16B", "I;16N", "I", "F", "1"}
# Bit depths a gray image may have been written with; the full-range window uses the smallest
# that holds the data, so a 12-bit image in a 16-bit PNG is not shown nearly black.
_BIT_DEPTHS = (8, 10, 12, 14, 16)


def read_raster(path: Path, source: SourceFormat, budget: DecodeBudget) -> Radiograph:
    notes: list[str] = []
    with warnings_module.catch_warnings():
        # Pillow only warns below twice its limit; we refuse at the limit itself.
        warnings_module.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            width, height = image.size
            if width <= 0 or height <= 0:
                raise CorruptFileError(f"image size {width} x {height} is empty")
            if width * height > budget.max_pixels:
                raise ImageTooLargeError(
                    f"image of {height} x {width} exceeds the pixel limit "
                    f"({budget.max_pixels / 2**20:.0f} Mpx)"
                )
            frames = int(getattr(image, "n_frames", 1))
            if frames > 1:
                notes.append(f"multi-page image ({frames} pages): showing page 1")
            image.load()
            values, bits = _to_gray(image, notes)
    if values.shape != (height, width):
        raise CorruptFileError("decoded image size does not match its header")
    presets = _presets(values, bits)
    info = ImageInfo(
        source_format=source, rows=height, columns=width, bits_stored=bits, number_of_frames=frames
    )
    return Radiograph(make_readonly(values), presets, False, info, warnings=tuple(notes))


def _to_gray(image: Image.Image, notes: list[str]) -> tuple[FloatImage, int | None]:
    mode = image.mode
    if mode in _GRAY_MODES:
        array: npt.NDArray[np.generic] = np.asarray(image)
        if mode == "1":
            return array.astype(np.float32), 1
        if array.dtype.kind == "f":
            return _finite_or_error(array.astype(np.float32)), None
        return array.astype(np.float32), (8 if mode == "L" else _bits_for(array))
    if mode in ("LA", "La"):
        notes.append("alpha channel ignored")
        return np.asarray(image.getchannel("L"), dtype=np.float32), 8
    if mode == "P":
        notes.append("palette image converted to grayscale luminance")
    elif mode in ("RGBA", "RGBa"):
        notes.append("colour image converted to grayscale luminance; alpha channel ignored")
    else:
        notes.append(f"{mode} image converted to grayscale luminance")
    rgb = np.asarray(image.convert("RGB"))
    return luminance(rgb), 8


def _bits_for(array: npt.NDArray[np.generic]) -> int:
    peak = int(array.max()) if array.size else 0
    return next((bits for bits in _BIT_DEPTHS if peak < 2**bits), 16)


def _finite_or_error(values: FloatImage) -> FloatImage:
    if not np.isfinite(values).all():
        raise CorruptFileError("float image contains NaN or infinity")
    return values


def _presets(values: FloatImage, bits: int | None) -> tuple[VoiPreset, ...]:
    automatic = auto_window(values)
    if bits is None:
        low, high = float(values.min()), float(values.max())
        full = VoiPreset(
            "full range", (low + high) / 2.0, max(high - low, 1e-6), VoiFunction.LINEAR_EXACT
        )
    else:
        top = float(2**bits - 1)
        full = VoiPreset("full range", top / 2.0, max(top, 1.0), VoiFunction.LINEAR_EXACT)
    return (full, automatic)
