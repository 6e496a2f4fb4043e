"""Write the seed corpus for ``fuzz_loader.py``: small valid and edge-case inputs of each format.

Run: ``.venv/bin/python fuzz/make_seed_corpus.py [FOLDER]`` (default ``build/fuzz/corpus``,
ignored by git). Seeds are generated, never checked in; pydicom-data's small test files are
copied when present (they cover compressed transfer syntaxes that we cannot encode here).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import pack_bits
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless

from engine.testing import fake_dicom

# Small pydicom-data files in transfer syntaxes the loader decodes with native codecs.
PUBLIC_FILES = (
    "JPEG2000.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_rle.dcm",
    "JPEG-lossy.dcm",
    "JPEG-LL.dcm",
    "JPEGLSNearLossless_16.dcm",
    "image_dfl.dcm",
    "MR_small_jp2klossless.dcm",
    "CT_small.dcm",
    "no_meta.dcm",
)
MAX_SEED_BYTES = 64 * 1024


def _dicom_bytes(dataset: pydicom.Dataset, **write: object) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, **write)  # type: ignore[arg-type]
    return buffer.getvalue()


def _seeds() -> dict[str, bytes]:
    ramp = np.tile(np.arange(0, 4096, 256, dtype=np.uint16), (12, 1))
    seeds: dict[str, bytes] = {}
    seeds["native16.dcm"] = _dicom_bytes(fake_dicom(ramp), enforce_file_format=True)
    seeds["native8_mono1.dcm"] = _dicom_bytes(
        fake_dicom(ramp.astype(np.uint8), PhotometricInterpretation="MONOCHROME1"),
        enforce_file_format=True,
    )
    signed = fake_dicom(ramp.astype(np.int16) - 2048, RescaleSlope=2, RescaleIntercept=-5)
    signed.WindowCenter, signed.WindowWidth = [100, 200], [400, 800]
    seeds["signed_windows.dcm"] = _dicom_bytes(signed, enforce_file_format=True)
    bits = (ramp % 3 == 0).astype(np.uint8)
    one_bit = fake_dicom(bits, BitsAllocated=1, BitsStored=1, HighBit=0)
    one_bit.PixelData = pack_bits(bits)
    seeds["one_bit.dcm"] = _dicom_bytes(one_bit, enforce_file_format=True)
    floats = fake_dicom(ramp)
    del floats.PixelData, floats.PixelRepresentation
    floats.BitsAllocated = floats.BitsStored = 32
    floats.HighBit = 31
    floats.FloatPixelData = (ramp.astype(np.float32) / 7).tobytes()
    seeds["float.dcm"] = _dicom_bytes(floats, enforce_file_format=True)
    rle = fake_dicom(ramp)
    rle.compress(RLELossless)
    seeds["rle.dcm"] = _dicom_bytes(rle, enforce_file_format=True)
    deflated = fake_dicom(ramp)
    deflated.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    seeds["deflated.dcm"] = _dicom_bytes(deflated, enforce_file_format=True)
    raw = fake_dicom(ramp)
    del raw.file_meta
    seeds["no_meta_implicit.dcm"] = _dicom_bytes(raw, implicit_vr=True, little_endian=True)
    multi = fake_dicom(np.concatenate([ramp, ramp]), NumberOfFrames=2, Rows=12)
    seeds["two_frames.dcm"] = _dicom_bytes(multi, enforce_file_format=True)
    for name, mode, array in (
        ("gray8.png", "L", ramp.astype(np.uint8)),
        ("gray16.png", "I;16", ramp),
        ("rgb.png", "RGB", np.dstack([ramp.astype(np.uint8)] * 3)),
    ):
        buffer = io.BytesIO()
        Image.fromarray(array).convert(mode).save(buffer, format="PNG")
        seeds[name] = buffer.getvalue()
    for name, fmt, kwargs in (
        ("gray.jpg", "JPEG", {"quality": 90}),
        ("gray.tiff", "TIFF", {"compression": "tiff_lzw"}),
        ("float.tiff", "TIFF", {}),
    ):
        buffer = io.BytesIO()
        array = ramp.astype(np.float32) if "float" in name else ramp.astype(np.uint8)
        image = Image.fromarray(array)
        image.save(buffer, format=fmt, **kwargs)
        seeds[name] = buffer.getvalue()
    return seeds


def _public_seeds() -> dict[str, bytes]:
    try:
        from pydicom.data import get_testdata_file
    except ImportError:
        return {}
    seeds = {}
    for name in PUBLIC_FILES:
        path = get_testdata_file(name)
        if path is not None and Path(path).stat().st_size <= MAX_SEED_BYTES:
            seeds[f"public_{name}"] = Path(path).read_bytes()
    return seeds


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "build/fuzz/corpus")
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {**_seeds(), **_public_seeds()}
    for name, data in seeds.items():
        (folder / name).write_bytes(data)
    print(f"{len(seeds)} seeds in {folder}")


if __name__ == "__main__":
    main()
