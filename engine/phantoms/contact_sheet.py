"""Contact sheet of healthy/diseased phantom pairs plus one ground-truth overlay.

``python -m engine.phantoms.contact_sheet docs/images/phantom_contact_sheet.png`` regenerates the
image in the docs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from engine.phantoms.generate import generate_phantom
from engine.phantoms.params import (
    DiseaseParams,
    ForeignObject,
    IloType,
    LargeOpacity,
    Phantom,
    PhantomParams,
)

Rgb = npt.NDArray[np.uint8]

SAMPLE_DISEASES = (
    DiseaseParams(profusion=1, opacity_type=IloType.P),
    DiseaseParams(profusion=2, opacity_type=IloType.Q),
    DiseaseParams(profusion=3, opacity_type=IloType.Q),
    DiseaseParams(profusion=2, opacity_type=IloType.R),
    DiseaseParams(profusion=0, haze=0.25),
    DiseaseParams(profusion=3, opacity_type=IloType.R, large_opacity=LargeOpacity.B),
    DiseaseParams(profusion=1, opacity_type=IloType.Q, haze=0.12),
    DiseaseParams(profusion=2, opacity_type=IloType.P, large_opacity=LargeOpacity.A),
)


def _caption(disease: DiseaseParams) -> str:
    parts = []
    if disease.nodules and disease.profusion:
        parts.append(f"{disease.opacity_type.value}{disease.profusion}")
    if disease.haze:
        parts.append(f"haze {disease.haze:g}")
    if disease.large_opacity is not LargeOpacity.NONE:
        parts.append(f"large {disease.large_opacity.value}")
    return " ".join(parts)


def _tile(image: npt.NDArray[np.float32], tile: int) -> Rgb:
    gray = Image.fromarray(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8))
    gray = gray.resize((tile, tile), Image.Resampling.BOX)
    return np.repeat(np.asarray(gray)[:, :, None], 3, axis=2)


def overlay(phantom: Phantom, tile: int) -> Rgb:
    """The diseased image with lung outlines (right cyan, left yellow), zone borders and the
    lesion map in red."""
    size = phantom.image.shape[0]
    rgb = np.repeat(phantom.image[:, :, None], 3, axis=2).astype(np.float32)
    lesion = np.clip(phantom.lesion_map / max(float(phantom.lesion_map.max()), 1e-6), 0, 1)
    rgb[..., 0] = np.maximum(rgb[..., 0], lesion)
    rgb[..., 1:] *= (1.0 - 0.7 * lesion)[..., None]
    for mask, color in ((phantom.lung_right, (0, 1, 1)), (phantom.lung_left, (1, 1, 0))):
        edge = mask & ~(
            np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
        )
        rgb[edge] = color
    zones = phantom.zones.astype(np.int16)
    border = (zones > 0) & (np.roll(zones, 1, 0) > 0) & (np.roll(zones, 1, 0) != zones)
    rgb[border] = (0.3, 1.0, 0.3)
    image = Image.fromarray(np.rint(rgb * 255).astype(np.uint8))
    if size != tile:
        image = image.resize((tile, tile), Image.Resampling.BOX)
    return np.asarray(image)


def contact_sheet(
    pairs: Sequence[Phantom], overlay_of: Phantom, tile: int = 256, columns: int = 6
) -> Rgb:
    """Grid of (healthy, diseased) tiles for each phantom in ``pairs``, then the overlay."""
    tiles: list[tuple[Rgb, str]] = []
    for phantom in pairs:
        tiles.append((_tile(phantom.healthy_image, tile), "healthy"))
        tiles.append((_tile(phantom.image, tile), _caption(phantom.params.disease)))
    tiles.append((overlay(overlay_of, tile), "lesion map + masks + zones"))
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * tile, rows * tile), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    for position, (pixels, caption) in enumerate(tiles):
        x, y = (position % columns) * tile, (position // columns) * tile
        sheet.paste(Image.fromarray(pixels), (x, y))
        draw.text((x + 4, y + tile - 14), caption, fill=(255, 220, 0))
    return np.asarray(sheet)


def sample_sheet(size: int = 512, seed: int = 2024) -> Rgb:
    """The documentation contact sheet: 8 pairs with varied disease, 1 overlay."""
    pairs = []
    for index, disease in enumerate(SAMPLE_DISEASES):
        objects = {ForeignObject.PACEMAKER, ForeignObject.ECG_LEADS} if index == 3 else set()
        params = PhantomParams(
            seed=seed + index,
            size=size,
            disease=disease,
            breast_shadows=index in (1, 6),
            foreign_objects=frozenset(objects),
        )
        pairs.append(generate_phantom(params))
    return contact_sheet(pairs, pairs[2])


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    target = Path(args[0] if args else "docs/images/phantom_contact_sheet.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sample_sheet()).save(target, optimize=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
