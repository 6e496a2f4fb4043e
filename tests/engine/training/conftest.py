"""Tiny generated data folders for the training tests (no phantom generator needed)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


def _ellipse(size: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def write_dataset(
    root: Path,
    *,
    n_ids: int = 4,
    size: int = 32,
    masks: bool = True,
    manifest: bool = True,
    test_ids: int = 1,
    seed: int = 0,
) -> Path:
    """A paired folder: each id is one "anatomy", healthy (dark lungs) and diseased (bright
    lungs). ``masks/`` holds ``_lung``, ``_left`` and ``_right``; the last ``test_ids`` ids are
    the test split in ``manifest.csv``."""
    rng = np.random.default_rng(seed)
    for label in ("healthy", "pneumoconiosis"):
        (root / label).mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    rows = []
    for index in range(n_ids):
        sample_id = f"p{index:03d}"
        jitter = rng.uniform(-0.03, 0.03, size=4)
        right = _ellipse(size, 0.5 + jitter[0], 0.3 + jitter[1], 0.3, 0.13)  # image left
        left = _ellipse(size, 0.5 + jitter[2], 0.7 + jitter[3], 0.3, 0.13)  # image right
        lungs = right | left
        noise = rng.normal(0.0, 0.02, size=(size, size))
        base = np.full((size, size), 0.75) + noise
        healthy = np.where(lungs, 0.2 + noise, base)
        spots = rng.random((size, size)) < 0.15
        diseased = np.where(lungs, 0.45 + 0.3 * spots + noise, base)
        for label, image in (("healthy", healthy), ("pneumoconiosis", diseased)):
            pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{sample_id}.png")
            split = "test" if index >= n_ids - test_ids else "train"
            rows.append({"id": sample_id, "label": label, "split": split})
        if masks:
            for suffix, mask in (("lung", lungs), ("left", left), ("right", right)):
                Image.fromarray(mask.astype(np.uint8) * 255).save(
                    root / "masks" / f"{sample_id}_{suffix}.png"
                )
    if manifest:
        with (root / "manifest.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "label", "split"])
            writer.writeheader()
            writer.writerows(rows)
    return root


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "data", **options: object) -> Path:
        return write_dataset(tmp_path / name, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def shared_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One read-only data folder for tests that do not modify it."""
    return write_dataset(tmp_path_factory.mktemp("shared") / "data", n_ids=5, test_ids=1)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine a second spinning thread makes the tiny
    networks here several times slower, and results do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
