"""PNG, JPEG and TIFF through the same loader."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.io import load_radiograph
from engine.types import SourceFormat


def _gradient(dtype=np.uint8, top=255) -> np.ndarray:
    return np.tile(np.linspace(0, top, 40).astype(dtype), (30, 1))


def test_png_8bit(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(_gradient()).save(path)
    radiograph = load_radiograph(path)
    assert radiograph.info.source_format is SourceFormat.PNG
    np.testing.assert_array_equal(radiograph.pixels, _gradient().astype(np.float32))
    assert radiograph.presets[0].name == "full range"
    assert radiograph.display()[0, -1] == pytest.approx(1.0)
    assert radiograph.display()[0, 0] == pytest.approx(0.0)


def test_png_16bit_keeps_full_precision(tmp_path):
    values = _gradient(np.uint16, 65535)
    path = tmp_path / "a16.png"
    Image.fromarray(values).save(path)
    radiograph = load_radiograph(path)
    np.testing.assert_array_equal(radiograph.pixels, values.astype(np.float32))
    assert radiograph.info.bits_stored == 16


def test_png_12bit_data_in_16bit_container_is_not_shown_black(tmp_path):
    values = _gradient(np.uint16, 4095)
    path = tmp_path / "a12.png"
    Image.fromarray(values).save(path)
    radiograph = load_radiograph(path)
    assert radiograph.info.bits_stored == 12
    assert radiograph.display().max() == pytest.approx(1.0)


def test_palette_png_becomes_luminance_with_warning(tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(_gradient()).convert("P").save(path)
    radiograph = load_radiograph(path)
    assert radiograph.pixels.ndim == 2
    assert any("palette" in w for w in radiograph.warnings)
    assert radiograph.pixels[0, -1] > radiograph.pixels[0, 0]


def test_rgba_png_ignores_alpha_with_warning(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., :3] = 100
    rgba[..., 3] = 0
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    radiograph = load_radiograph(path)
    np.testing.assert_allclose(radiograph.pixels, 100, atol=0.01)
    assert any("alpha" in w for w in radiograph.warnings)


def test_jpeg(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(_gradient()).save(path, quality=95)
    radiograph = load_radiograph(path)
    assert radiograph.info.source_format is SourceFormat.JPEG
    assert abs(float(radiograph.pixels[0, -1]) - 255) < 8


def test_tiff_16bit_and_float(tmp_path):
    path = tmp_path / "a.tiff"
    Image.fromarray(_gradient(np.uint16, 60000)).save(path)
    assert load_radiograph(path).info.source_format is SourceFormat.TIFF
    float_path = tmp_path / "f.tiff"
    values = np.linspace(-1, 1, 100, dtype=np.float32).reshape(10, 10)
    Image.fromarray(values, "F").save(float_path)
    radiograph = load_radiograph(float_path)
    np.testing.assert_allclose(radiograph.pixels, values)
    assert radiograph.display().min() == pytest.approx(0.0)


def test_multipage_tiff_shows_first_page(tmp_path):
    path = tmp_path / "pages.tiff"
    pages = [Image.fromarray(np.full((8, 8), value, np.uint8)) for value in (10, 200)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    radiograph = load_radiograph(path)
    np.testing.assert_array_equal(radiograph.pixels, 10)
    assert any("2 pages" in w for w in radiograph.warnings)


def test_format_is_found_from_content_not_name(tmp_path):
    path = tmp_path / "misnamed.dcm"
    Image.fromarray(_gradient()).save(path, format="PNG")
    assert load_radiograph(path).info.source_format is SourceFormat.PNG
