"""Slider frames and the GIF export."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.explain.difference import signed_difference, symmetric_limit
from engine.explain.frames import (
    BlendedImages,
    Frame,
    FrameSequence,
    StoredImages,
    blend,
    is_monotonic,
    strength_positions,
)
from engine.explain.gif import SYNTHETIC_LABEL, TRANSLATED_PANE_LABEL, GifOptions, write_gif
from engine.explain.pipeline import pooled_limit


def _sequence(n: int = 5, size: int = 48) -> tuple[np.ndarray, FrameSequence]:
    columns = np.mgrid[0:size, 0:size][1]
    original = (0.3 + 0.4 * (columns / size)).astype(np.float32)
    translated = original.copy()
    translated[10:30, 10:30] += 0.2
    images = BlendedImages(original, translated)
    positions = strength_positions(n)
    frames = [Frame(s, 0.2 + 0.15 * index, images) for index, s in enumerate(positions)]
    limit = pooled_limit(images, positions)
    probabilities = tuple(frame.probability for frame in frames)
    return original, FrameSequence(
        "strength", tuple(frames), limit, "pneumoconiosis", is_monotonic(probabilities)
    )


def test_blended_frames_render_what_an_eager_blend_gives():
    rng = np.random.default_rng(3)
    original = rng.random((20, 30), dtype=np.float32)
    translated = np.clip(original + rng.normal(0.0, 0.3, original.shape), 0, 1).astype(np.float32)
    images = BlendedImages(original, translated)
    for strength in strength_positions(5, exaggerate=2.0):
        frame = Frame(strength, 0.5, images)
        expected = blend(original, translated, strength)
        np.testing.assert_array_equal(frame.image, expected)
        np.testing.assert_array_equal(frame.difference, signed_difference(original, expected))
        assert not frame.image.flags.writeable
        assert not frame.difference.flags.writeable


@pytest.mark.parametrize(("shape", "exaggerate"), [((40, 40), 1.0), ((731, 1203), 2.0)])
def test_pooled_limit_equals_the_limit_over_every_rendered_frame(shape, exaggerate):
    """The pipeline's shared scale, taken from sampled images, is exactly the percentile over
    all full-resolution frame differences (the larger shape is sampled on a grid)."""
    rng = np.random.default_rng(4)
    original = rng.random(shape, dtype=np.float32)
    translated = np.clip(original + rng.normal(0.0, 0.2, shape), 0, 1).astype(np.float32)
    images = BlendedImages(original, translated)
    positions = strength_positions(7, exaggerate=exaggerate)
    rendered = [images.difference(s) for s in positions]
    assert pooled_limit(images, positions) == symmetric_limit(*rendered)


def test_stored_frames_keep_their_images():
    image = np.full((3, 3), 0.25, np.float32)
    difference = np.full((3, 3), -0.5, np.float32)
    frame = Frame(1.5, 0.9, StoredImages(image, difference))
    assert frame.image is image
    assert frame.difference is difference


def test_positions_and_blend():
    assert strength_positions(3) == (0.0, 0.5, 1.0)
    assert strength_positions(3, exaggerate=1.5)[-1] == 1.5
    original = np.zeros((2, 2), np.float32)
    translated = np.full((2, 2), 0.4, np.float32)
    np.testing.assert_allclose(blend(original, translated, 0.5), 0.2)
    np.testing.assert_allclose(blend(original, translated, 3.0), 1.0)  # clipped to display range
    with pytest.raises(ValueError, match="n_frames"):
        strength_positions(1)


def test_monotonic_check():
    assert is_monotonic((0.1, 0.2, 0.5))
    assert is_monotonic((0.9, 0.5, 0.5, 0.1))
    assert not is_monotonic((0.1, 0.6, 0.4, 0.9))


def test_gif_frames_ping_pong_and_size_cap(tmp_path):
    original, sequence = _sequence(n=5, size=200)
    path = write_gif(tmp_path / "out.gif", original, sequence, GifOptions(max_width=300))
    with Image.open(path) as gif:
        assert gif.n_frames == 5 + 3  # forward, then back without repeating the ends
        assert gif.width <= 300
        assert gif.info.get("loop") == 0
        assert "comment" not in gif.info


def test_gif_burns_in_the_synthetic_label_and_probability(tmp_path):
    original, sequence = _sequence()
    path = write_gif(tmp_path / "out.gif", original, sequence, GifOptions(ping_pong=False))
    with Image.open(path) as gif:
        first = np.asarray(gif.convert("RGB"))
    band = first[: first.shape[0] // 8]
    yellow = (band[..., 0] > 200) & (band[..., 1] > 150) & (band[..., 2] < 80)
    assert yellow.sum() > 20  # the label text is drawn
    assert SYNTHETIC_LABEL.startswith("SYNTHETIC")
    bottom = first[-first.shape[0] // 8 :]
    assert (bottom > 200).all(axis=-1).sum() > 20  # the caption with the probability


def test_difference_pane_is_mid_gray_where_nothing_changed(tmp_path):
    original, sequence = _sequence(n=2, size=120)
    path = write_gif(tmp_path / "out.gif", original, sequence, GifOptions(ping_pong=False))
    with Image.open(path) as gif:
        gif.seek(1)
        strip = np.asarray(gif.convert("L")).astype(int)
    height = strip.shape[0]
    pane = strip.shape[1] // 3
    unchanged = strip[height // 2 + 20, 2 * pane + pane - 10]
    assert abs(unchanged - 128) <= 6


def test_no_partial_file_when_the_disk_fills_during_export(tmp_path, monkeypatch):
    original, sequence = _sequence()
    real_save = Image.Image.save

    def _save_then_fail(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)  # bytes reach the temporary file, then:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", _save_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_gif(tmp_path / "out.gif", original, sequence)
    assert list(tmp_path.iterdir()) == []


def _red_rows(rgb: np.ndarray) -> np.ndarray:
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
    return red.mean(axis=1) > 0.5


def test_gif_burns_the_caution_into_every_frame_and_names_the_translated_pane(tmp_path):
    original, sequence = _sequence(n=3)
    plain = write_gif(tmp_path / "plain.gif", original, sequence, GifOptions(ping_pong=False))
    warned = write_gif(
        tmp_path / "warned.gif",
        original,
        sequence,
        GifOptions(ping_pong=False, caution="OUT OF DISTRIBUTION (score 3.00)"),
    )
    with Image.open(plain) as gif:
        assert not _red_rows(np.asarray(gif.convert("RGB"))).any()
    with Image.open(warned) as gif:
        for index in range(gif.n_frames):
            gif.seek(index)
            rows = _red_rows(np.asarray(gif.convert("RGB")))
            assert rows[: len(rows) // 10].sum() >= 5, index  # a red band at the top
    assert "SYNTHETIC" in TRANSLATED_PANE_LABEL


def test_a_long_caution_wraps_instead_of_being_cut():
    from PIL import ImageFont

    from engine.explain.export import with_caution_band
    from engine.explain.gif import _wrapped, caution_band

    caution = "LOW RESOLUTION (256 px): a healthy verdict misses more mild findings"
    wide = caution_band(caution, 1200, 20)
    narrow = caution_band(caution, 160, 20)
    assert wide.size == (1200, 20)  # one line: the band keeps its height
    assert narrow.width == 160
    assert narrow.height > 2 * 14  # two lines or more
    # Every word is kept, in order, and no line is wider than the band.
    font = ImageFont.load_default(size=12)
    lines = _wrapped("CAUTION: " + caution, font, 150)
    assert " ".join(lines) == "CAUTION: " + caution
    assert all(font.getlength(line) <= 150 for line in lines if " " in line)
    # The exported picture keeps its own pixels under the taller band.
    pixels = np.full((80, 160), 77, np.uint8)
    marked = with_caution_band(pixels, caution)
    band = caution_band(caution, 160, 14)  # an export's band: 4 % of the side, at least 14 px
    assert band.height > 14
    assert marked.shape[0] == band.height + 80
    np.testing.assert_array_equal(marked[band.height :, :, 0], pixels)
