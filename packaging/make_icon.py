"""Draw the application icon: ``packaging/icons/cxr-explain.{png,ico,icns}``.

Command (the outputs are committed; rerun after changing the drawing):
    .venv/bin/python packaging/make_icon.py

A stylised chest radiograph: two lung fields on a dark film, the right one (viewer's left)
split by a warm/cool line to hint at the signed-difference view. Drawn at 1024 px and
downsampled, so every size is anti-aliased.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ICON_DIR = Path(__file__).resolve().parent / "icons"
NAME = "cxr-explain"
MASTER = 1024
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
FILM = (18, 24, 34, 255)
LUNG = (200, 210, 222, 255)
WARM = (235, 120, 60, 255)
COOL = (70, 150, 235, 255)


def draw_master(size: int = MASTER) -> Image.Image:
    """The icon at ``size`` px, RGBA with transparent rounded corners."""
    unit = size / 16
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=int(3 * unit), fill=FILM)

    lungs = Image.new("L", (size, size), 0)
    lung_draw = ImageDraw.Draw(lungs)
    lung_draw.ellipse((2.2 * unit, 2.5 * unit, 7.4 * unit, 13.6 * unit), fill=255)
    lung_draw.ellipse((8.6 * unit, 2.5 * unit, 13.8 * unit, 13.6 * unit), fill=255)
    # The mediastinum and heart shadow cut into the lower inner edges.
    lung_draw.ellipse((6.0 * unit, 8.0 * unit, 11.5 * unit, 15.5 * unit), fill=0)
    lungs = lungs.filter(ImageFilter.GaussianBlur(unit * 0.15))
    icon.paste(Image.new("RGBA", (size, size), LUNG), (0, 0), lungs)

    # Spine: a soft bright column between the lungs.
    draw.rounded_rectangle(
        (7.55 * unit, 1.5 * unit, 8.45 * unit, 14.5 * unit), radius=int(0.4 * unit), fill=LUNG
    )
    # Signed difference: warm (brighter) and cool (darker) blobs over the left lung field.
    for colour, box in (
        (WARM, (9.4 * unit, 3.4 * unit, 12.0 * unit, 6.2 * unit)),
        (COOL, (10.6 * unit, 6.8 * unit, 13.0 * unit, 9.2 * unit)),
    ):
        blob = Image.new("L", (size, size), 0)
        ImageDraw.Draw(blob).ellipse(box, fill=220)
        blob = blob.filter(ImageFilter.GaussianBlur(unit * 0.4))
        icon.paste(Image.new("RGBA", (size, size), colour), (0, 0), blob)
    return icon


def main() -> list[Path]:
    ICON_DIR.mkdir(exist_ok=True)
    master = draw_master()
    png = ICON_DIR / f"{NAME}.png"
    master.resize((256, 256), Image.Resampling.LANCZOS).save(png, optimize=True)
    ico = ICON_DIR / f"{NAME}.ico"
    master.save(ico, sizes=ICO_SIZES)
    icns = ICON_DIR / f"{NAME}.icns"
    master.save(icns)
    return [png, ico, icns]


if __name__ == "__main__":
    for path in main():
        print(path)
