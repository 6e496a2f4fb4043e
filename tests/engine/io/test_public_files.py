"""The loader against the public test files shipped by pydicom and pydicom-data.

Each file is paired with a reference record (shape, polarity, a few modality values read from
the uncompressed version of the same image), so every encoding of one image must agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from engine.errors import CorruptFileError, MissingDecoderError
from engine.io import load_radiograph


@dataclass(frozen=True)
class Reference:
    shape: tuple[int, int]
    invert: bool
    # (row, column) -> modality value, from the uncompressed file of the same image.
    values: dict[tuple[int, int], float]


RG1 = Reference((1955, 1841), True, {(0, 0): 18889.0, (977, 920): 3441.0, (1954, 1840): 2908.0})
RG3 = Reference((1760, 1760), True, {(0, 0): 0.0, (880, 880): 306.0})
MR = Reference((64, 64), False, {(0, 0): 905.0, (32, 32): 182.0, (63, 63): 862.0})
NM = Reference((1024, 256), False, {(0, 0): 0.0, (512, 128): 7.0})
EMRI = Reference((64, 64), False, {(0, 0): 31.0, (32, 32): 110.0, (63, 63): 135.0})

# file -> (reference, exact?) ; lossy encodings are compared with a tolerance.
CASES = {
    "RG1_UNCR.dcm": (RG1, True),  # CR, MONOCHROME1, uncompressed
    "RG1_J2KR.dcm": (RG1, True),  # CR, JPEG 2000 lossless
    "RG1_J2KI.dcm": (RG1, False),  # CR, JPEG 2000 lossy
    "RG3_UNCR.dcm": (RG3, True),
    "RG3_J2KR.dcm": (RG3, True),
    "MR_small.dcm": (MR, True),
    "MR_small_RLE.dcm": (MR, True),  # RLE lossless
    "MR_small_bigendian.dcm": (MR, True),  # explicit VR big endian
    "MR_small_implicit.dcm": (MR, True),
    "MR_small_jp2klossless.dcm": (MR, True),
    "MR_small_jpeg_ls_lossless.dcm": (MR, True),  # JPEG-LS (python-gdcm)
    "JPEG2000_UNC.dcm": (NM, True),
    "JPEG2000.dcm": (NM, False),
    "emri_small.dcm": (EMRI, True),  # multi-frame
    "emri_small_RLE.dcm": (EMRI, True),
    "emri_small_big_endian.dcm": (EMRI, True),
    "emri_small_jpeg_2k_lossless.dcm": (EMRI, True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_public_file_matches_its_reference(name):
    reference, exact = CASES[name]
    radiograph = load_radiograph(get_testdata_file(name))
    assert radiograph.shape == reference.shape
    assert radiograph.invert is reference.invert
    assert radiograph.pixels.dtype == np.float32
    for (row, column), expected in reference.values.items():
        actual = float(radiograph.pixels[row, column])
        if exact:
            assert actual == expected, (row, column)
        else:
            assert abs(actual - expected) <= 0.05 * max(abs(expected), 100.0), (row, column)


def test_lossless_jpeg2000_cr_equals_uncompressed_everywhere():
    uncompressed = load_radiograph(get_testdata_file("RG1_UNCR.dcm")).pixels
    compressed = load_radiograph(get_testdata_file("RG1_J2KR.dcm")).pixels
    np.testing.assert_array_equal(compressed, uncompressed)


def test_jpeg_lossless_process14_decodes():
    radiograph = load_radiograph(get_testdata_file("JPGLosslessP14SV1_1s_1f_8b.dcm"))
    assert radiograph.shape == (768, 1024)
    assert float(radiograph.pixels.max()) > float(radiograph.pixels.min())


def test_jpeg_lossless_decodes_with_its_declared_bit_depth():
    radiograph = load_radiograph(get_testdata_file("JPEG-LL.dcm"))
    assert radiograph.shape == (1024, 256)
    assert 0 <= float(radiograph.pixels.min()) < float(radiograph.pixels.max()) < 2**16


def test_cr_header_window_is_the_default_preset():
    radiograph = load_radiograph(get_testdata_file("RG1_UNCR.dcm"))
    assert radiograph.presets[0].center == 15000
    assert radiograph.presets[0].width == 30000
    assert radiograph.presets[-1].name == "auto"


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("OBXXXX1A.dcm", "palette"),
        ("SC_rgb.dcm", "luminance"),
        ("SC_rgb_jpeg_dcmtk.dcm", "luminance"),
        ("emri_small.dcm", "10 frames"),
    ],
)
def test_colour_and_multiframe_files_warn(name, warning):
    radiograph = load_radiograph(get_testdata_file(name))
    assert radiograph.pixels.ndim == 2
    assert any(warning in text for text in radiograph.warnings)


def test_palette_luminance_has_structure():
    pixels = load_radiograph(get_testdata_file("OBXXXX1A.dcm")).pixels
    assert pixels.std() > 0


def test_voi_lut_file_uses_its_lut_first():
    radiograph = load_radiograph(get_testdata_file("vlut_04.dcm"))
    assert radiograph.presets[0].lut is not None
    display = radiograph.display()
    assert 0.0 <= display.min() < display.max() <= 1.0


def test_modality_lut_file_is_mapped():
    stored = load_radiograph(get_testdata_file("mlut_18.dcm"))
    assert stored.pixels.dtype == np.float32
    assert stored.shape == (512, 512)


def test_deflated_file_opens():
    radiograph = load_radiograph(get_testdata_file("image_dfl.dcm"))
    assert radiograph.shape == (512, 512)


def test_file_meta_without_transfer_syntax_falls_back_to_parsed_encoding():
    radiograph = load_radiograph(get_testdata_file("OT-PAL-8-face.dcm"))
    assert radiograph.shape == (480, 640)


def test_truncated_public_file_is_a_clear_error():
    with pytest.raises(CorruptFileError, match="truncated"):
        load_radiograph(get_testdata_file("MR_truncated.dcm"))


def test_twelve_bit_jpeg_extended_names_the_missing_decoder():
    with pytest.raises(MissingDecoderError, match="pylibjpeg-libjpeg"):
        load_radiograph(get_testdata_file("JPGExtended.dcm"))


@pytest.mark.parametrize("name", ["rtplan.dcm", "test-SR.dcm", "waveform_ecg.dcm"])
def test_non_image_dicom_objects_say_there_are_no_pixels(name):
    with pytest.raises(CorruptFileError, match="no pixel data"):
        load_radiograph(get_testdata_file(name))
