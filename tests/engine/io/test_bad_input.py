"""Bad input: every failure is an InputError subclass with a one-line message, nothing else."""

from __future__ import annotations

import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.errors import (
    CorruptFileError,
    ImageTooLargeError,
    InputError,
    MissingDecoderError,
    UnsupportedFormatError,
)
from engine.io import DecodeBudget, dicom_decode, load_radiograph


def _one_line(error: Exception) -> str:
    text = str(error)
    assert text
    assert "\n" not in text
    assert "Traceback" not in text
    return text


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found") as caught:
        load_radiograph(tmp_path / "absent.dcm")
    _one_line(caught.value)


def test_directory(tmp_path):
    with pytest.raises(InputError, match="folder"):
        load_radiograph(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        load_radiograph(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.dcm"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(UnsupportedFormatError):
        load_radiograph(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image\n")
    with pytest.raises(UnsupportedFormatError, match="not a DICOM, PNG, JPEG or TIFF"):
        load_radiograph(path)


@pytest.mark.parametrize("keep", [140, 300, 600])
def test_truncated_dicom(make_dicom, ramp, keep):
    path = make_dicom(ramp)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(InputError) as caught:
        load_radiograph(path)
    _one_line(caught.value)


def test_header_only_dicom_without_pixel_data(make_dicom, ramp):
    path = make_dicom(ramp)
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(CorruptFileError, match="no pixel data"):
        load_radiograph(path)


def test_pixel_data_shorter_than_rows_times_columns(make_dicom, ramp):
    path = make_dicom(ramp)
    ds = pydicom.dcmread(path)
    ds.PixelData = ramp.tobytes()[:100]
    ds.save_as(path)
    with pytest.raises(CorruptFileError, match="shorter"):
        load_radiograph(path)


def test_bits_stored_greater_than_bits_allocated(make_dicom, ramp):
    with pytest.raises(CorruptFileError, match="BitsStored 20"):
        load_radiograph(make_dicom(ramp, BitsStored=20, HighBit=19))


def test_declared_size_far_beyond_memory_is_refused_before_allocating(make_dicom, ramp):
    path = make_dicom(ramp, Rows=60000, Columns=60000, NumberOfFrames=100000)
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError, match="pixel limit"):
            load_radiograph(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_many_declared_frames_decode_only_the_first(make_dicom, ramp):
    radiograph = load_radiograph(make_dicom(ramp, NumberOfFrames=100000))
    assert radiograph.shape == ramp.shape
    assert any("100000 frames" in w for w in radiograph.warnings)


def test_deflated_dicom_beyond_the_inflation_budget_is_refused(tmp_path):
    from pydicom.data import get_testdata_file

    budget = DecodeBudget(max_inflated_bytes=64 * 1024)
    with pytest.raises(ImageTooLargeError, match="deflated"):
        load_radiograph(get_testdata_file("image_dfl.dcm"), budget)


def test_png_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (9000, 9000)).save(path)  # 81 Mpx in a few kB
    assert path.stat().st_size < 200_000
    with pytest.raises(ImageTooLargeError, match="pixel limit"):
        load_radiograph(path)


def test_compressed_png_stream_that_is_corrupt(tmp_path):
    path = tmp_path / "broken.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 8
    data[start : start + 20] = zlib.compress(b"garbage")[:20]
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError) as caught:
        load_radiograph(path)
    _one_line(caught.value)


def test_missing_decoder_names_syntax_and_package(monkeypatch):
    from pydicom.data import get_testdata_file

    class _Unavailable:
        is_available = False
        available_plugins = ()

    monkeypatch.setattr(dicom_decode, "get_decoder", lambda syntax: _Unavailable())
    with pytest.raises(MissingDecoderError, match=r"JPEG 2000.*pylibjpeg-openjpeg"):
        load_radiograph(get_testdata_file("RG1_J2KR.dcm"), isolate=False)  # patched here


def test_polyglot_preamble_is_flagged(make_dicom, ramp):
    path = make_dicom(ramp)
    data = bytearray(path.read_bytes())
    data[0:2] = b"MZ"  # a Windows executable header in the preamble
    path.write_bytes(bytes(data))
    radiograph = load_radiograph(path)
    assert any("preamble" in w for w in radiograph.warnings)


def test_odd_file_names_open(make_dicom, ramp):
    path = make_dicom(ramp, name="räume mit leerzeichen 胸部.dcm")
    assert load_radiograph(path).shape == ramp.shape


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=0, max_size=2048), cut=st.integers(0, 4000))
def test_fuzzed_dicom_bytes_raise_only_input_errors(tmp_path_factory, make_dicom, ramp, data, cut):
    """Splice random bytes into a valid DICOM: only our error types may escape."""
    base = make_dicom(ramp).read_bytes()
    mutated = base[:cut] + data + base[cut + len(data) :]
    path: Path = tmp_path_factory.mktemp("fuzz") / "case.dcm"
    path.write_bytes(mutated)
    try:
        radiograph = load_radiograph(path, DecodeBudget(max_pixels=2**22))
    except InputError as error:
        _one_line(error)
    else:
        assert radiograph.pixels.ndim == 2
