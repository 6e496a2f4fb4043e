"""One paired phantom anatomy as the training layout's files (``train-defaults``' data set).

Kept free of torch: ``train-defaults --phantom-workers`` renders anatomies in spawned processes,
and each imports only this module's dependencies (numpy, Pillow, the phantom generator).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.phantoms.generate import generate_pair
from engine.phantoms.params import DiseaseParams
from engine.phantoms.population import PopulationExtras


@dataclass(frozen=True, slots=True)
class PairLayout:
    """Where a pair goes: folders named ``healthy``, ``diseased`` and ``masks`` in ``directory``."""

    directory: Path
    healthy: str
    diseased: str
    masks: str


def write_png(path: Path, image: np.ndarray, *, sixteen_bit: bool = False) -> None:
    """``image`` in ``[0, 1]`` as an 8- or 16-bit grayscale PNG."""
    from PIL import Image

    top = 65535.0 if sixteen_bit else 255.0
    pixels = np.round(np.clip(image, 0.0, 1.0) * top).astype(np.uint16 if sixteen_bit else np.uint8)
    Image.fromarray(pixels).save(path)


def write_pair(
    layout: PairLayout,
    sample_id: str,
    seed: int,
    disease: DiseaseParams,
    size: int,
    *,
    sixteen_bit: bool,
    extras: PopulationExtras | None = None,
) -> None:
    """Render one anatomy and write its healthy and diseased images, its three lung masks and its
    foreign-object mask (``_devices``: pacemaker, wires, ECG leads; empty without devices).

    ``extras``: devices and breast shadows, the same in both images (they belong to the anatomy).
    """
    options = (extras or PopulationExtras()).as_options()
    phantom = generate_pair(seed=seed, disease=disease, size=size, **options)
    folder = layout.directory
    for label, image in ((layout.healthy, phantom.healthy_image), (layout.diseased, phantom.image)):
        write_png(folder / label / f"{sample_id}.png", np.asarray(image), sixteen_bit=sixteen_bit)
    for suffix, mask in (
        ("lung", phantom.lungs),
        ("left", phantom.lung_left),
        ("right", phantom.lung_right),
        ("devices", phantom.foreign_mask),
    ):
        write_png(folder / layout.masks / f"{sample_id}_{suffix}.png", np.asarray(mask, float))
