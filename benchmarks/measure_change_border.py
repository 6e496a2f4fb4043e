"""Which part of a generator's change flips the classifier: the lung field's edge, or the rest?

For each diseased file of a paired folder (``cxr-explain phantoms --paired``), the to-healthy
explanation is computed with ``explain`` (as the viewer does), and its change in the lungs is split
into the band within ``--width`` px of the lung field's edge and the interior. Each part alone is
added to the original, as the pipeline adds a change, and classified at the operating point:

    .venv/bin/python benchmarks/measure_change_border.py --pairs DIR [--models DIR] [--width 12]

A faithful change removes the opacities wherever they are, so its interior carries most of the
effect; a change whose edge band alone flips the classifier, while its interior does not, moves
it by the field's edge (issue 19: docs/validation/generators.md). What it cannot show: why the
classifier reads the edge, nor whether a change kept off the edge would then be faithful.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from engine.explain.pipeline import Direction, ExplainRequest, explain
from engine.inference.model_set import ModelSet, load_model_set
from engine.inference.run import classify
from engine.io.loader import load_radiograph
from engine.resources import default_models_dir

THRESHOLD = 0.5  # the calibrated classifier's operating point


def split_change(models: ModelSet, diseased_file: Path, width: int) -> dict[str, float]:
    """P of the original plus the whole change, the edge band's part and the interior's part;
    the band's share of the lung pixels and of the change's energy."""
    request = ExplainRequest(
        direction=Direction.TO_HEALTHY, n_frames=2, threshold=THRESHOLD, with_attributions=False
    )
    result = explain(load_radiograph(diseased_file), models, request)
    lung = result.right_lung | result.left_lung
    change = np.where(lung, result.primary.difference, 0.0)
    interior = ndimage.binary_erosion(lung, iterations=width)
    band = lung & ~interior

    def probability(part: np.ndarray) -> float:
        image = np.clip(result.original + part, 0.0, 1.0).astype(np.float32)
        return float(classify(models.classifier, [image], lung)[0])

    energy = float(np.square(change, dtype=np.float64).sum())
    return {
        "original": result.probability,
        "whole": probability(change),
        "edge": probability(np.where(band, change, 0.0)),
        "interior": probability(np.where(interior, change, 0.0)),
        "edge_pixels": float(band.sum() / max(int(lung.sum()), 1)),
        "edge_energy": float(np.square(change[band], dtype=np.float64).sum() / energy)
        if energy > 0
        else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, required=True, help="cxr-explain phantoms --paired")
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--width", type=int, default=12, help="edge band, px of the file")
    args = parser.parse_args()
    models = load_model_set(args.models or default_models_dir())
    print(f"models: {models.version_label()}; edge band {args.width} px")
    print("| file | P original | whole change | edge band only | interior only | edge share of")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    rows = []
    for diseased_file in sorted((args.pairs / "pneumoconiosis").glob("*.png")):
        row = split_change(models, diseased_file, args.width)
        rows.append(row)
        print(
            f"| {diseased_file.name} | {row['original']:.3f} | {row['whole']:.3f} | "
            f"{row['edge']:.3f} | {row['interior']:.3f} | pixels {row['edge_pixels']:.2f}, "
            f"change energy {row['edge_energy']:.2f} |"
        )
    flips = {part: sum(r[part] < THRESHOLD for r in rows) for part in ("whole", "edge", "interior")}
    qualifying = sum(r["original"] >= THRESHOLD for r in rows)
    print(
        f"called healthy of {len(rows)} ({qualifying} called diseased before): whole change "
        f"{flips['whole']}, edge band alone {flips['edge']}, interior alone {flips['interior']}"
    )


if __name__ == "__main__":
    main()
