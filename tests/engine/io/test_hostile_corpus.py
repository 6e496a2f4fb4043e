"""A generated corpus of hostile and edge-case files, through the loader and ``cxr-explain info``.

Each file either opens (optionally with a named warning) or fails with its documented one-line
error, within a time limit. The engine-only checks that already exist are not repeated as such:
- truncated / header-only / too-short pixel data / BitsStored > BitsAllocated / declared size
  beyond memory (with an allocation bound) / deflate and PNG bombs / polyglot preamble / odd
  names / random bytes: ``test_bad_input.py``; here they also go through the CLI and the clock.
- float pixel data with NaN: ``test_dicom_pipeline.py::test_float_pixel_data_with_nan_is_finite``.
- codec crash, hang and memory blow-up in the decoder process: ``test_isolation.py``.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import pack_bits

from engine.cli.main import main
from engine.errors import (
    CorruptFileError,
    ImageTooLargeError,
    InputError,
    UnsupportedFormatError,
)
from engine.io import load_radiograph
from engine.phantoms.dicom import write_dicom
from engine.resources import sample_radiograph_path
from engine.testing import fake_dicom

# Generous: the slowest case decodes a 1024 x 1024 JPEG 2000 on a busy two-core machine.
TIME_LIMIT_S = 20.0
RAMP = np.tile(np.linspace(0, 4095, 24).astype(np.uint16), (16, 1))


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]
    # An InputError subclass the loader must raise, or None: it must open.
    error: type[InputError] | None = None
    warning: str | None = None  # a substring one of the Radiograph's warnings must hold


def _dicom(path: Path, pixels: np.ndarray = RAMP, **attributes: object) -> Path:
    fake_dicom(pixels, None, **attributes).save_as(path, enforce_file_format=True)
    return path


def _truncated(path: Path) -> Path:
    data = _dicom(path).read_bytes()
    path.write_bytes(data[:300])
    return path


def _header_only(path: Path) -> Path:
    """Preamble, DICM and the file meta group, nothing after it."""
    dataset = fake_dicom(RAMP)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    meta_length = int.from_bytes(data[140:144], "little")
    path.write_bytes(data[: 144 + meta_length])
    return path


def _random_bytes(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(7).bytes(8192))
    return path


def _random_after_dicm(path: Path) -> Path:
    path.write_bytes(b"\0" * 128 + b"DICM" + np.random.default_rng(8).bytes(8192))
    return path


def _no_file_meta(path: Path) -> Path:
    """An old-style stream: no preamble, no DICM, no group 0002, implicit VR."""
    dataset = fake_dicom(RAMP)
    del dataset.file_meta
    buffer = io.BytesIO()
    pydicom.filewriter.dcmwrite(
        buffer, dataset, implicit_vr=True, little_endian=True, enforce_file_format=False
    )
    path.write_bytes(buffer.getvalue())
    return path


def _with_preamble(preamble: bytes) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        data = bytearray(_dicom(path).read_bytes())
        data[: len(preamble)] = preamble
        path.write_bytes(bytes(data))
        return path

    return build


def _beyond_memory(path: Path) -> Path:
    return _dicom(path, Rows=65535, Columns=65535, NumberOfFrames=2**31 - 1)


def _pixels_too_short(path: Path) -> Path:
    path = _dicom(path)
    dataset = pydicom.dcmread(path)
    dataset.PixelData = dataset.PixelData[:50]
    dataset.save_as(path)
    return path


def _one_bit(shape: tuple[int, int]) -> Callable[[Path], Path]:
    """A 1-bit (packed) segmentation-like object; odd sizes do not end on a byte boundary."""

    def build(path: Path) -> Path:
        bits = (np.indices(shape).sum(0) % 3 == 0).astype(np.uint8)
        dataset = fake_dicom(bits, None, BitsAllocated=1, BitsStored=1, HighBit=0, Modality="SEG")
        dataset.PixelData = pack_bits(bits)
        dataset.save_as(path, enforce_file_format=True)
        return path

    return build


def _float_pixels(values: np.ndarray) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        dataset = fake_dicom(np.zeros(values.shape, np.uint16))
        del dataset.PixelData
        del dataset.PixelRepresentation
        dataset.BitsAllocated = dataset.BitsStored = 32
        dataset.HighBit = 31
        dataset.FloatPixelData = values.astype(np.float32).tobytes()
        dataset.save_as(path, enforce_file_format=True)
        return path

    return build


def _jpeg2000_codestream(mutate: Callable[[bytearray, int], None]) -> Callable[[Path], Path]:
    """The bundled sample (lossless JPEG 2000, 1024 x 1024) with its codestream damaged."""

    def build(path: Path) -> Path:
        data = bytearray(sample_radiograph_path().read_bytes())
        mutate(data, data.index(b"\xff\x4f\xff\x51"))  # SOC + SIZ markers
        path.write_bytes(bytes(data))
        return path

    return build


def _bad_siz(data: bytearray, start: int) -> None:
    data[start + 4 : start + 40] = b"\xff" * 36


def _cut_codestream(data: bytearray, start: int) -> None:
    del data[start + (len(data) - start) // 2 :]


def _garbage_in_codestream(data: bytearray, start: int) -> None:
    data[start + 5000 : start + 9000] = np.random.default_rng(3).bytes(4000)


def _tiff_bomb(path: Path) -> Path:
    Image.new("1", (9000, 9000)).save(path, format="TIFF", compression="group4")
    return path


def _png_header_lie(path: Path) -> Path:
    """A PNG whose header says 2^31-1 x 1 with almost no data behind it."""
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data.index(b"IHDR") + 4
    data[ihdr : ihdr + 4] = (2**31 - 1).to_bytes(4, "big")
    import zlib

    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = crc.to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def _truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue()[:200])
    return path


def _renamed(name: str) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        return _dicom(path.with_name(name))

    return build


NAN_AND_INF = np.array([[np.nan, np.inf, -np.inf, 1.0], [2.0, 3.0, np.nan, 4.0]])
ODD_NAMES = [
    "name with spaces.dcm",
    "räumlich 胸部 снимок.dcm",
    "-starts-with-dash.dcm",
    "semi;colon & $dollar 'quote'.dcm",
]
if sys.platform != "win32":
    ODD_NAMES.append("new\nline.dcm")

CASES = [
    Case("truncated_in_header", _truncated, CorruptFileError),
    Case("header_only_file_meta", _header_only, CorruptFileError),
    Case("random_bytes", _random_bytes, UnsupportedFormatError),
    Case("random_bytes_after_dicm", _random_after_dicm, InputError),
    Case("no_file_meta_implicit_vr", _no_file_meta),
    Case("polyglot_windows_executable", _with_preamble(b"MZ\x90\x00"), warning="preamble"),
    Case("polyglot_elf", _with_preamble(b"\x7fELF\x02\x01\x01"), warning="preamble"),
    Case("tiff_preamble_is_legitimate", _with_preamble(b"II*\x00\x08\x00\x00\x00")),
    Case("declared_size_beyond_memory", _beyond_memory, ImageTooLargeError),
    Case("pixel_data_too_short", _pixels_too_short, CorruptFileError),
    Case("bits_stored_over_allocated", lambda p: _dicom(p, BitsStored=20), CorruptFileError),
    Case("bits_allocated_12", lambda p: _dicom(p, BitsAllocated=12), CorruptFileError),
    Case("pixel_representation_2", lambda p: _dicom(p, PixelRepresentation=2), CorruptFileError),
    Case("samples_per_pixel_2", lambda p: _dicom(p, SamplesPerPixel=2), CorruptFileError),
    Case("zero_rows", lambda p: _dicom(p, Rows=0), CorruptFileError),
    Case("negative_frames", lambda p: _dicom(p, NumberOfFrames=-3), CorruptFileError),
    Case("high_bit_inconsistent_but_readable", lambda p: _dicom(p, BitsStored=12, HighBit=3)),
    Case("one_bit_segmentation", _one_bit((16, 24))),
    Case("one_bit_segmentation_odd_size", _one_bit((7, 9))),
    Case("float_pixels_nan_inf", _float_pixels(NAN_AND_INF), warning="NaN or infinity"),
    Case("float_pixels_all_nan", _float_pixels(np.full((4, 4), np.nan)), warning="no finite"),
    Case("jpeg2000_bad_siz_marker", _jpeg2000_codestream(_bad_siz), CorruptFileError),
    Case("jpeg2000_truncated_codestream", _jpeg2000_codestream(_cut_codestream), CorruptFileError),
    # JPEG 2000 decoders resynchronise: damaged code blocks decode as noise, not as an error.
    Case("jpeg2000_garbage_in_codestream", _jpeg2000_codestream(_garbage_in_codestream)),
    Case("tiff_decompression_bomb", _tiff_bomb, ImageTooLargeError),
    Case("png_header_claims_2g_pixels", _png_header_lie, ImageTooLargeError),
    Case("jpeg_truncated", _truncated_jpeg, CorruptFileError),
    *(Case(f"odd_name_{i}", _renamed(name)) for i, name in enumerate(ODD_NAMES)),
]


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case_file(request, tmp_path) -> tuple[Case, Path]:
    case: Case = request.param
    return case, case.build(tmp_path / f"{case.name}.bin")


def _timed(action: Callable[[], object]) -> object:
    start = time.monotonic()
    try:
        return action()
    finally:
        assert time.monotonic() - start < TIME_LIMIT_S


@pytest.mark.timeout(120)
def test_loader_opens_or_raises_the_documented_one_line_error(case_file):
    case, path = case_file
    if case.error is None:
        radiograph = _timed(lambda: load_radiograph(path))
        assert radiograph.pixels.ndim == 2
        assert np.isfinite(radiograph.pixels).all()
        if case.warning is None:
            assert not any("preamble" in w for w in radiograph.warnings)
        else:
            assert any(case.warning in w for w in radiograph.warnings), radiograph.warnings
        return
    with pytest.raises(case.error) as caught:
        _timed(lambda: load_radiograph(path))
    message = str(caught.value)
    assert message
    assert "\n" not in message
    assert path.name not in message  # never quotes the file name back (it may be a patient's)


@pytest.mark.timeout(120)
def test_cli_info_prints_json_or_one_error_line(case_file, capsys):
    case, path = case_file
    code = _timed(lambda: main(["info", str(path)]))
    captured = capsys.readouterr()
    if case.error is None:
        assert code == 0, captured.err
        report = json.loads(captured.out)
        assert report["rows"] > 0
        if case.warning is not None:
            assert any(case.warning in w for w in report["warnings"])
    else:
        assert code == 2
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith("error: ")


@pytest.mark.timeout(300)
def test_cli_info_in_a_subprocess_within_the_time_limit(tmp_path):
    """The console script end to end on a few cases (the isolated decoder included)."""
    chosen = {"jpeg2000_bad_siz_marker", "declared_size_beyond_memory", "random_bytes"}
    script = Path(sys.executable).with_name("cxr-explain")
    for case in (c for c in CASES if c.name in chosen):
        path = case.build(tmp_path / f"{case.name}.bin")
        result = subprocess.run(
            [str(script), "info", str(path)],
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT_S * 3,
            check=False,
        )
        assert result.returncode == 2, (case.name, result.stderr)
        assert re.fullmatch(r"error: [^\n]+\n", result.stderr), result.stderr


def test_no_writer_of_ours_writes_a_non_zero_preamble(tmp_path):
    """Phantoms, the fake-DICOM builder and the shipped sample all carry a zero preamble."""
    phantom = tmp_path / "phantom.dcm"
    write_dicom(phantom, np.zeros((8, 8), np.float32), index=0, seed=0, spacing_mm=0.2)
    fake = _dicom(tmp_path / "fake.dcm")
    for path in (phantom, fake, sample_radiograph_path()):
        data = path.read_bytes()
        assert data[128:132] == b"DICM", path.name
        assert data[:128] == b"\0" * 128, path.name
    # Nothing in the code base sets a preamble other than zeros.
    root = Path(__file__).resolve().parents[3]
    for folder in ("engine", "viewer", "packaging"):
        for source in (root / folder).rglob("*.py"):
            for line in source.read_text(encoding="utf-8").splitlines():
                if re.search(r"\.preamble\s*=", line):
                    assert re.search(r'b"\\(x00|0)" \* 128', line), (source, line)


class _RustPanic(BaseException):
    """What pyo3 raises for a Rust panic (pyo3_runtime.PanicException derives from this)."""


def test_codec_panic_deriving_from_base_exception_is_a_corrupt_file_error(monkeypatch):
    """Found by fuzz/fuzz_loader.py: pylibjpeg-rle panicked on a mutated RLE segment."""
    from engine.io import dicom_decode

    def panic(*args: object, **kwargs: object) -> None:
        raise _RustPanic("index out of bounds: the len is 8192 but the index is 8192")

    monkeypatch.setattr(dicom_decode, "pixel_array", panic)
    with pytest.raises(CorruptFileError, match="_RustPanic"):
        load_radiograph(sample_radiograph_path(), isolate=False)


def test_panic_outside_the_codec_is_still_an_input_error(monkeypatch, tmp_path):
    from engine.io import loader

    def panic(*args: object, **kwargs: object) -> None:
        raise _RustPanic("boom")

    monkeypatch.setattr(loader, "read_raster", panic)
    path = tmp_path / "x.png"
    Image.new("L", (4, 4)).save(path)
    with pytest.raises(CorruptFileError, match="malformed"):
        load_radiograph(path)
