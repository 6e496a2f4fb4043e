"""The DICOM grayscale pipeline on generated files: modality -> VOI -> polarity."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from engine.io import load_radiograph
from engine.types import SpacingKind, VoiFunction


def test_monochrome2_ramp_keeps_values_and_brightens_with_value(make_dicom, ramp):
    radiograph = load_radiograph(make_dicom(ramp, BitsStored=12, HighBit=11))
    assert radiograph.pixels.dtype == np.float32
    assert radiograph.pixels.shape == (32, 64)
    np.testing.assert_array_equal(radiograph.pixels, ramp.astype(np.float32))
    display = radiograph.display()
    assert display[0, -1] > display[0, 0]
    assert not radiograph.invert


def test_monochrome1_ramp_is_brightest_where_stored_value_is_lowest(make_dicom, ramp):
    path = make_dicom(ramp, PhotometricInterpretation="MONOCHROME1", BitsStored=12, HighBit=11)
    radiograph = load_radiograph(path)
    display = radiograph.display()
    assert radiograph.invert
    brightest_column = int(np.argmax(display[0]))
    assert ramp[0, brightest_column] == ramp.min()
    assert np.all(np.diff(display[0]) <= 0)


def test_presentation_lut_inverse_inverts_monochrome2(make_dicom, ramp):
    radiograph = load_radiograph(make_dicom(ramp, PresentationLUTShape="INVERSE"))
    assert radiograph.invert
    assert radiograph.display()[0, 0] > radiograph.display()[0, -1]


def test_monochrome1_with_inverse_shape_inverts_once(make_dicom, ramp):
    path = make_dicom(ramp, PhotometricInterpretation="MONOCHROME1", PresentationLUTShape="INVERSE")
    radiograph = load_radiograph(path)
    assert radiograph.display()[0, 0] > radiograph.display()[0, -1]


def test_rescale_slope_and_intercept_give_modality_values(make_dicom, ramp):
    radiograph = load_radiograph(make_dicom(ramp, RescaleSlope="0.5", RescaleIntercept="-100"))
    np.testing.assert_allclose(radiograph.pixels, ramp * 0.5 - 100, rtol=0, atol=1e-4)


def test_signed_pixels_keep_their_sign(make_dicom):
    pixels = np.array([[-1000, -1], [0, 1200]], dtype=np.int16)
    radiograph = load_radiograph(make_dicom(pixels))
    np.testing.assert_array_equal(radiograph.pixels, pixels.astype(np.float32))


def test_every_header_window_is_a_preset_in_order(make_dicom, ramp):
    path = make_dicom(
        ramp,
        WindowCenter=[2000, 1000],
        WindowWidth=[4000, 500],
        WindowCenterWidthExplanation=["STANDARD", "LUNG"],
        VOILUTFunction="LINEAR_EXACT",
    )
    presets = load_radiograph(path).presets
    assert [p.name for p in presets] == ["STANDARD", "LUNG", "auto"]
    assert presets[1].center == 1000
    assert presets[1].width == 500
    assert presets[0].function is VoiFunction.LINEAR_EXACT


def test_linear_window_follows_the_standard_formula(make_dicom):
    pixels = np.array([[0, 50, 99, 100, 101, 200]], dtype=np.uint16)
    radiograph = load_radiograph(make_dicom(pixels, WindowCenter=100, WindowWidth=100))
    display = radiograph.display()
    # PS3.3 C.11.2.1.2.1: x <= c - 0.5 - (w-1)/2 -> min; x > c - 0.5 + (w-1)/2 -> max.
    assert display[0, 0] == 0.0
    assert display[0, -1] == 1.0
    expected = (100 - (100 - 0.5)) / (100 - 1) + 0.5
    assert display[0, 3] == pytest.approx(expected, abs=1e-5)


def test_percentile_window_when_header_has_none(make_dicom):
    rng = np.random.default_rng(1)
    pixels = rng.integers(1000, 3000, size=(64, 64), dtype=np.uint16)
    pixels[0, 0] = 65535  # one outlier must not stretch the automatic window
    preset = load_radiograph(make_dicom(pixels)).presets[0]
    assert preset.name == "auto"
    assert 1900 < preset.center < 2100
    assert preset.width < 2100


def test_voi_lut_sequence_is_the_default_and_windows_stay_presets(make_dicom, ramp):
    item = Dataset()
    table = np.linspace(4095, 0, 4096).astype(np.uint16)  # a LUT that inverts the ramp
    item.LUTDescriptor = [4096, 0, 12]
    item.LUTData = table.astype("<u2").tobytes()
    item.LUTExplanation = "INVERTING LUT"
    path = make_dicom(ramp, VOILUTSequence=Sequence([item]), WindowCenter=2048, WindowWidth=4096)
    radiograph = load_radiograph(path)
    names = [p.name for p in radiograph.presets]
    assert names[0] == "INVERTING LUT"
    assert "window 1" in names
    display = radiograph.display()
    assert display[0, 0] == pytest.approx(1.0)
    assert display[0, -1] == pytest.approx(0.0)


def test_pixel_spacing_prefers_patient_plane(make_dicom, ramp):
    path = make_dicom(ramp, PixelSpacing=[0.2, 0.25], ImagerPixelSpacing=[0.3, 0.3])
    spacing = load_radiograph(path).info.spacing
    assert spacing is not None
    assert (spacing.row_mm, spacing.column_mm, spacing.kind) == (0.2, 0.25, SpacingKind.PATIENT)


def test_imager_pixel_spacing_is_reported_at_the_detector(make_dicom, ramp):
    radiograph = load_radiograph(make_dicom(ramp, ImagerPixelSpacing=[0.15, 0.15]))
    assert radiograph.info.spacing is not None
    assert radiograph.info.spacing.kind is SpacingKind.DETECTOR
    assert any("detector" in w for w in radiograph.warnings)


@pytest.mark.parametrize("spacing", [None, [0, 0], [0.0, 0.2]])
def test_zero_or_missing_spacing_is_unknown_never_guessed(make_dicom, ramp, spacing):
    attributes = {} if spacing is None else {"PixelSpacing": spacing}
    assert load_radiograph(make_dicom(ramp, **attributes)).info.spacing is None


def test_multiframe_shows_first_frame_with_warning(make_dicom):
    frames = np.stack([np.full((8, 8), value, np.uint16) for value in (10, 20, 30)])
    path = make_dicom(frames[0], NumberOfFrames=3)
    # Rewrite pixel data with all three frames (build_dataset wrote one).
    import pydicom

    ds = pydicom.dcmread(path)
    ds.PixelData = frames.tobytes()
    ds.save_as(path)
    radiograph = load_radiograph(path)
    assert radiograph.shape == (8, 8)
    np.testing.assert_array_equal(radiograph.pixels, 10)
    assert any("3 frames" in w for w in radiograph.warnings)


def test_rgb_becomes_luminance_with_warning(make_dicom):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 1] = 200
    path = make_dicom(
        rgb[..., 0], SamplesPerPixel=3, PhotometricInterpretation="RGB", PlanarConfiguration=0
    )
    import pydicom

    ds = pydicom.dcmread(path)
    ds.PixelData = rgb.tobytes()
    ds.save_as(path)
    radiograph = load_radiograph(path)
    np.testing.assert_allclose(radiograph.pixels, 0.587 * 200, rtol=1e-5)
    assert any("luminance" in w for w in radiograph.warnings)


def test_float_pixel_data_with_nan_is_finite(make_dicom):
    import pydicom

    path = make_dicom(np.zeros((4, 4), np.uint16))
    ds = pydicom.dcmread(path)
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    values = np.arange(16, dtype=np.float32).reshape(4, 4)
    values[1, 1] = np.nan
    values[2, 2] = np.inf
    ds.BitsAllocated = 32
    ds.FloatPixelData = values.tobytes()
    ds.save_as(path)
    radiograph = load_radiograph(path)
    assert np.isfinite(radiograph.pixels).all()
    assert any("NaN" in w for w in radiograph.warnings)


def test_identity_is_kept_apart_from_display_safe_info(make_dicom, ramp):
    radiograph = load_radiograph(make_dicom(ramp))
    identity = radiograph.identity.as_dict()
    assert identity["PatientName"] == "TESTPATIENT^SECRET"
    assert "SECRET" not in repr(radiograph.info)
    assert "ID-424242" not in repr(radiograph.info)


def test_pixels_are_read_only(make_dicom, ramp):
    radiograph = load_radiograph(make_dicom(ramp))
    with pytest.raises(ValueError, match="read-only"):
        radiograph.pixels[0, 0] = 1.0
