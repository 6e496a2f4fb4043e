"""GIF export of an explanation: original | frame | difference, labels burned in.

Built fresh from arrays, so nothing of the source file (comments, metadata, file name) can ride
along; no patient-identifying text unless the caller passes it explicitly as ``header_text``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from engine.atomic import atomic_path
from engine.errors import InputError
from engine.explain.difference import DifferenceColourMap, render_difference, signed_difference
from engine.explain.frames import FrameSequence
from engine.geometry import resize
from engine.types import FloatImage

SYNTHETIC_LABEL = "SYNTHETIC IMAGE - NOT FOR DIAGNOSIS"
TRANSLATED_PANE_LABEL = "translated: SYNTHETIC, not for diagnosis"
CAUTION_PREFIX = "CAUTION: "
_BANNER_FRACTION = 0.07  # text band height relative to pane height
CAUTION_RED = (200, 0, 0)
# The label colours besides white (a gray): header, pane names, the caution band.
_TEXT_COLOURS = ((255, 200, 0), (0, 255, 255), CAUTION_RED)


def _gray_palette() -> Image.Image:
    """256 entries: every gray level but three, then the text colours."""
    grays = [round(i * 255 / 252) for i in range(253)]
    colours = [(g, g, g) for g in grays] + list(_TEXT_COLOURS)
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in colours for channel in colour])
    return palette


_GRAY_PALETTE = _gray_palette()


@dataclass(frozen=True, slots=True)
class GifOptions:
    """``max_width``: the whole strip (three panes) is scaled down to at most this many pixels."""

    frame_ms: int = 120
    max_width: int = 1200
    ping_pong: bool = True
    colour_map: DifferenceColourMap = DifferenceColourMap.GRAY
    header_text: str | None = None  # e.g. a study label the user chose to include
    # What the animation shows, e.g. "to-healthy  models classifier@1a2b3c4d ..."
    description: str | None = None
    # A warning burned into every frame (ExplanationResult.caution(): out of distribution,
    # invalid, non-monotonic, a verdict on a low-resolution image), so that whoever
    # receives only the GIF sees it.
    caution: str | None = None

    def __post_init__(self) -> None:
        if self.frame_ms < 20:
            raise ValueError(f"frame_ms must be at least 20, got {self.frame_ms}")
        if self.max_width < 96:
            raise ValueError(f"max_width must be at least 96, got {self.max_width}")


def render_strip(
    original: FloatImage,
    frame_image: FloatImage,
    difference: FloatImage,
    limit: float,
    colour_map: DifferenceColourMap,
) -> npt.NDArray[np.uint8]:
    """Three panes side by side as ``(H, 3W, 3)`` RGB uint8."""
    gray = [np.rint(np.clip(p, 0.0, 1.0) * 255.0).astype(np.uint8) for p in (original, frame_image)]
    diff = render_difference(difference, limit, colour_map)
    panes = [np.repeat(g[..., None], 3, axis=-1) for g in gray]
    panes.append(diff if diff.ndim == 3 else np.repeat(diff[..., None], 3, axis=-1))
    return np.concatenate(panes, axis=1)


def write_gif(
    path: str | os.PathLike[str],
    original: FloatImage,
    sequence: FrameSequence,
    options: GifOptions | None = None,
) -> Path:
    """Write the animation atomically (temporary file, then rename); return the path.

    Each frame's difference pane is ``frame.image - original`` at the GIF's size (what every
    ``Frame.difference`` holds), rendered with ``sequence.difference_limit``."""
    options = options or GifOptions()
    if not sequence.frames:
        raise InputError("no frames to export")
    # Scale the panes to the GIF's size first: rendering 2000 px strips and shrinking them
    # afterwards took most of the export time.
    scale = min(1.0, options.max_width / (3 * original.shape[1]))
    shape = (max(1, round(original.shape[0] * scale)), max(1, round(original.shape[1] * scale)))
    small_original = resize(original, shape)
    images = []
    for index, frame in enumerate(sequence.frames):
        small_image = resize(frame.image, shape)
        # The resize is linear, so the small difference is the difference of the small images:
        # one full-resolution frame rendered per frame instead of two.
        small_difference = signed_difference(small_original, small_image)
        strip = render_strip(
            small_original,
            small_image,
            small_difference,
            sequence.difference_limit,
            options.colour_map,
        )
        caption = (
            f"frame {index + 1}/{len(sequence.frames)}  {sequence.axis} {frame.position:+.2f}  "
            f"P({sequence.label}) = {frame.probability:.3f}"
        )
        images.append(_labelled(strip, caption, options))
    if options.colour_map is DifferenceColourMap.GRAY:
        # Gray panes and three text colours: one fixed palette, mapped without dithering, is
        # exact for the panes and ~10x faster than an adaptive palette per frame.
        images = [
            image.quantize(palette=_GRAY_PALETTE, dither=Image.Dither.NONE) for image in images
        ]
    if options.ping_pong and len(images) > 2:
        images = images + images[-2:0:-1]
    return _save_atomically(Path(path), images, options.frame_ms)


def _labelled(strip: npt.NDArray[np.uint8], caption: str, options: GifOptions) -> Image.Image:
    image = Image.fromarray(strip, "RGB")
    scale = min(1.0, options.max_width / image.width)
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    band = max(14, round(image.height * _BANNER_FRACTION))
    warning = caution_band(options.caution, image.width, band) if options.caution else None
    caution_height = 0 if warning is None else warning.height
    canvas = Image.new("RGB", (image.width, image.height + 2 * band + caution_height), (0, 0, 0))
    canvas.paste(image, (0, band + caution_height))
    if warning is not None:
        canvas.paste(warning, (0, 0))
    draw = ImageDraw.Draw(canvas)
    text_size = max(9, round(band * 0.6))
    # Identifiers the user asked for come first: a long description must not push them off.
    top = "  ".join(t for t in (options.header_text, options.description) if t) or SYNTHETIC_LABEL
    top_y = caution_height + band * 0.2
    draw.text((4, top_y), top, fill=(255, 200, 0), font=fitted_font(top, image.width, text_size))
    pane = image.width / 3
    names = ("original", TRANSLATED_PANE_LABEL, "difference")
    for index, name in enumerate(names):
        font = fitted_font(name, int(pane) - 8, text_size)
        draw.text(
            (index * pane + 4, caution_height + band * 1.05), name, fill=(0, 255, 255), font=font
        )
    bottom = caution_height + image.height + band * 1.2
    font = fitted_font(caption, image.width, text_size)
    draw.text((4, bottom), caption, fill=(255, 255, 255), font=font)
    return canvas


def fitted_font(
    text: str, width: int, size: int = 12, minimum: int = 7
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The default font at ``size`` or smaller, down to ``minimum``, so ``text`` fits ``width``
    pixels (a long warning must still be read whole)."""
    for candidate in range(size, minimum - 1, -1):
        font = ImageFont.load_default(size=candidate)
        if font.getlength(text) <= width - 8:
            return font
    return ImageFont.load_default(size=minimum)


def caution_band(caution: str, width: int, height: int) -> Image.Image:
    """A red band ``width`` pixels wide that shows ``caution`` whole, for the top of an export.

    One line at the largest font that fits (down to a readable floor) in a band ``height`` high;
    a caution too long for that (a 256 px image's PNG) is word-wrapped at that floor over as many
    lines as it needs, and the band grows to hold them: someone who receives only the picture
    must be able to read every reason. (A single word wider than the band, in an image a few
    dozen pixels wide, is still cut.)"""
    text = CAUTION_PREFIX + caution
    floor = 9
    size = max(floor, round(height * 0.6))
    font = fitted_font(text, width, size, minimum=floor)
    lines = [text] if font.getlength(text) <= width - 8 else _wrapped(text, font, width - 8)
    line_height = int(font.getbbox("Ag")[3]) + 2
    top = round(height * 0.2)
    band_height = height if len(lines) == 1 else max(height, 2 * top + len(lines) * line_height)
    band = Image.new("RGB", (width, band_height), CAUTION_RED)
    draw = ImageDraw.Draw(band)
    for index, line in enumerate(lines):
        draw.text((4, top + index * line_height), line, fill=(255, 255, 255), font=font)
    return band


def _wrapped(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int
) -> list[str]:
    """``text`` broken at spaces into lines of at most ``width`` pixels (a longer word alone)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if current and font.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current]


def _save_atomically(path: Path, images: Sequence[Image.Image], frame_ms: int) -> Path:
    first, *rest = images
    with atomic_path(path) as temporary:
        first.save(
            temporary,
            format="GIF",
            save_all=True,
            append_images=rest,
            duration=frame_ms,
            loop=0,
            optimize=False,
            disposal=1,
        )
    return path
