"""Small dependency-free plots (Pillow): the cohort histograms of the paper's Fig. 6 and 7."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_SIZE = (640, 400)
_MARGIN = (60, 40, 20, 50)  # left, top, right, bottom


def histogram_png(values: Sequence[float], title: str, x_label: str, bins: int = 20) -> Image.Image:
    """A histogram with a zero line, axis ticks and labels, white background."""
    image = Image.new("RGB", _SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    left, top, right, bottom = _MARGIN
    width, height = _SIZE[0] - left - right, _SIZE[1] - top - bottom
    draw.text((left, 10), title, fill="black", font=font)
    data = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if data.size == 0:
        draw.text((left + 10, top + height // 2), "no data", fill="gray", font=font)
        return image
    limit = float(np.abs(data).max()) or 1e-3
    counts, edges = np.histogram(data, bins=bins, range=(-limit, limit))
    peak = max(int(counts.max()), 1)

    def x_of(value: float) -> float:
        return left + (value + limit) / (2 * limit) * width

    for count, low, high in zip(counts, edges[:-1], edges[1:], strict=True):
        bar_top = top + height * (1 - count / peak)
        colour = (70, 110, 200) if high <= 0 else (200, 80, 70) if low >= 0 else (150, 150, 150)
        draw.rectangle([x_of(low) + 1, bar_top, x_of(high) - 1, top + height], fill=colour)
    draw.line([left, top + height, left + width, top + height], fill="black")
    draw.line([left, top, left, top + height], fill="black")
    draw.line([x_of(0.0), top, x_of(0.0), top + height], fill="black", width=1)
    for value in (-limit, 0.0, limit):
        draw.text((x_of(value) - 20, top + height + 5), f"{value:+.3f}", fill="black", font=font)
    draw.text((left - 30, top - 2), str(peak), fill="black", font=font)
    draw.text((left + width // 2 - 120, top + height + 25), x_label, fill="black", font=font)
    return image
