"""One diseased phantom explained toward healthy by several model folders, beside the truth.

Rows: the planted change (the pair's healthy file in the lungs), then each ``--models`` folder's
to-healthy explanation, computed by ``explain`` as the viewer computes it; columns: original,
translation, difference (lungs only, mid-grey = 0, black / white at -+ ``--scale`` intensity units,
the same for every row so that sizes compare). One line per folder is printed: P before and after,
the oracle's P after, the signed NCC with the planted change and both mean lung changes.

    .venv/bin/python benchmarks/plot_explanations.py --pairs DIR --index 4 --out sheet.png \\
        --models resources/models OTHER_MODELS ...

``--pairs``: a ``cxr-explain phantoms --paired`` folder; ``--index``: which diseased file (sorted).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from engine.explain import scoring
from engine.explain.pipeline import Direction, ExplainRequest, explain
from engine.explain.validate import true_change
from engine.inference.model_set import load_model_set
from engine.io.loader import load_radiograph

TILE = 384


def _gray(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=0.15)
    parser.add_argument("--models", type=Path, nargs="+", required=True)
    args = parser.parse_args()
    diseased_file = sorted((args.pairs / "pneumoconiosis").glob("*.png"))[args.index]
    diseased = load_radiograph(diseased_file)
    healthy = load_radiograph(args.pairs / "healthy" / diseased_file.name)
    planted = true_change(diseased, healthy)

    def difference(change: np.ndarray) -> Image.Image:
        return _gray(0.5 + change / (2.0 * args.scale))

    request = ExplainRequest(
        direction=Direction.TO_HEALTHY, n_frames=3, threshold=0.5, with_attributions=False
    )
    rows: list[list[Image.Image]] = []
    for folder in args.models:
        result = explain(diseased, load_model_set(folder), request)
        lungs = result.right_lung | result.left_lung
        truth = np.where(lungs, planted, 0.0)
        change = np.where(lungs, result.primary.difference, 0.0)
        if not rows:
            rows.append([_gray(result.original), _gray(result.original + truth), difference(truth)])
        rows.append([_gray(result.original), _gray(result.primary.translated), difference(change)])
        oracle = result.primary.oracle_probability
        ncc = scoring.ncc(change[lungs], truth[lungs])
        print(
            f"{folder}: P {result.probability:.3f} -> {result.primary.probability:.4f}, oracle "
            f"after {'n/a' if oracle is None else f'{oracle:.3f}'}, signed NCC {ncc:.3f}, mean "
            f"lung change {change[lungs].mean():+.4f} (planted {truth[lungs].mean():+.4f})"
        )
    sheet = Image.new("L", (3 * TILE, len(rows) * TILE))
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            sheet.paste(tile.resize((TILE, TILE), Image.Resampling.LANCZOS), (c * TILE, r * TILE))
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
