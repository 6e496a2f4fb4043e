"""Helpers of the FIGAN tests: a tiny generated data folder and the tiny training options."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 32


def _ellipse(size: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def write_dataset(root: Path, *, n_ids: int = 12, size: int = SIZE, seed: int = 0) -> Path:
    """Paired folder layout: per id a healthy image (dark lungs) and a diseased one (lungs
    brightened by a random amount, so the label and a continuous feature go together); masks and
    a manifest with the last two ids in the test split."""
    rng = np.random.default_rng(seed)
    for label in ("healthy", "pneumoconiosis"):
        (root / label).mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    rows = []
    for index in range(n_ids):
        sample_id = f"p{index:03d}"
        jitter = rng.uniform(-0.03, 0.03, size=4)
        right = _ellipse(size, 0.5 + jitter[0], 0.3 + jitter[1], 0.3, 0.13)
        left = _ellipse(size, 0.5 + jitter[2], 0.7 + jitter[3], 0.3, 0.13)
        lungs = right | left
        noise = rng.normal(0.0, 0.02, size=(size, size))
        base = np.full((size, size), 0.75) + noise
        healthy = np.where(lungs, rng.uniform(0.1, 0.3) + noise, base)
        diseased = np.where(lungs, rng.uniform(0.35, 0.65) + noise, base)
        split = "test" if index >= n_ids - 2 else "train"
        for label, image in (("healthy", healthy), ("pneumoconiosis", diseased)):
            pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{sample_id}.png")
            rows.append({"id": sample_id, "label": label, "split": split})
        for suffix, mask in (("lung", lungs), ("left", left), ("right", right)):
            Image.fromarray(mask.astype(np.uint8) * 255).save(
                root / "masks" / f"{sample_id}_{suffix}.png"
            )
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return root


@dataclass(frozen=True)
class TinyModels:
    data: Path
    models: Path  # holds classifier/ and figan/
    run: Path  # the FIGAN run folder


TINY_FIGAN = {
    "size": SIZE,
    "batch_size": 8,
    "ngf": 4,
    "ndf": 4,
    "max_width": 16,
    "latent_dim": 4,
    "components": 2,
    "lr": 2e-3,
    "score_weight": 5.0,
    "sample_every": 0,
    "progress_bar": False,
}
