"""Can a small U-Net find foreign objects (pacemaker, wires, ECG leads) without finding lesions?

Issue 19 asks for a keep mask: pixels of devices, where the displayed change must be zero. A
morphological detector found too few device pixels and too many lesion pixels
(docs/validation/generators.md); this measures a learned one before it becomes a model. It
writes phantoms (devices in 80 %, random findings up to contrast 3, haze, large opacities,
breast shadows; 256/512/1024 px; 8- and 16-bit PNG) as files, reads them with
``load_radiograph`` and ``model_intensity`` as ``explain`` does, trains a U-Net on the
phantoms' foreign-object masks at ``--size`` and prints, on held-out phantoms, the share of
device pixels inside the lungs it finds and the shares of lesion and other lung pixels it flags.

    .venv/bin/python benchmarks/measure_device_segmenter.py [--train 240] [--epochs 12]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine import api
from engine.geometry import resize
from engine.inference.model_input import model_intensity
from engine.networks.unet import UNet
from engine.phantoms import DiseaseParams, ForeignObject, IloType, LargeOpacity, generate_pair

KINDS = list(ForeignObject)
TYPES = [IloType.P, IloType.Q, IloType.R]


def _phantom(
    index: int, rng: np.random.Generator, folder: Path, size: int
) -> tuple[np.ndarray, ...]:
    """(input, device mask, lesion mask, lung mask) at ``size`` px, through a file."""
    source = (256, 512, 1024)[index % 3]
    objects: frozenset[ForeignObject] = frozenset()
    if rng.random() < 0.8:
        count = int(rng.integers(1, len(KINDS) + 1))
        objects = frozenset(KINDS[int(k)] for k in rng.choice(len(KINDS), count, replace=False))
    disease = DiseaseParams(
        profusion=int(rng.integers(1, 4)),
        opacity_type=TYPES[int(rng.integers(3))],
        haze=float(rng.uniform(0.0, 0.3)) if rng.random() < 0.5 else 0.0,
        large_opacity=LargeOpacity.B if rng.random() < 0.2 else LargeOpacity.NONE,
        opacity_density=float(rng.uniform(1.0, 3.0)),
    )
    phantom = generate_pair(
        10000 + index,
        disease,
        size=source,
        foreign_objects=objects,
        breast_shadows=bool(rng.random() < 0.3),
    )
    sixteen = index % 3 == 0
    path = folder / f"{index}.png"
    scale, dtype = (65535, np.uint16) if sixteen else (255, np.uint8)
    Image.fromarray((np.clip(phantom.image, 0, 1) * scale).astype(dtype)).save(path)
    image = resize(model_intensity(api.load_radiograph(path)), (size, size))
    devices = phantom.foreign_mask
    lesions = (phantom.lesion_map > 0.02) & ~devices

    def at_size(mask: np.ndarray, level: float) -> np.ndarray:
        return resize(mask.astype(np.float32), (size, size)) > level

    return (
        image.astype(np.float32),
        at_size(devices, 0.25),
        at_size(lesions, 0.5),
        at_size(phantom.lungs, 0.5),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=240, help="training phantoms")
    parser.add_argument("--test", type=int, default=36, help="held-out phantoms")
    parser.add_argument("--size", type=int, default=384, help="network input side, px")
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    train = [_phantom(i, rng, folder, args.size) for i in range(args.train)]
    test = [_phantom(100000 + i, rng, folder, args.size) for i in range(args.test)]
    print(f"phantoms written and read: {time.perf_counter() - start:.0f} s", flush=True)
    inputs = torch.from_numpy(np.stack([t[0] for t in train]))[:, None] * 2 - 1
    targets = torch.from_numpy(np.stack([t[1] for t in train]).astype(np.float32))[:, None]
    network = UNet(in_channels=1, out_channels=1, base_width=8, depth=4)
    optimizer = torch.optim.Adam(network.parameters(), 2e-3)
    # Devices cover about 1 % of the image: weigh the positives up.
    positive_weight = torch.tensor(10.0)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(len(inputs))
        total = 0.0
        for first in range(0, len(inputs), 8):
            batch = order[first : first + 8]
            loss = F.binary_cross_entropy_with_logits(
                network(inputs[batch]), targets[batch], pos_weight=positive_weight
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        print(f"epoch {epoch}: loss {total:.3f}, {time.perf_counter() - start:.0f} s", flush=True)
    network.eval()
    with torch.no_grad():
        for threshold in (0.5, 0.7):
            found, lesion_flagged, lung_flagged = [], [], []
            for image, devices, lesions, lungs in test:
                logits = network(torch.from_numpy(image)[None, None] * 2 - 1)
                flagged = torch.sigmoid(logits)[0, 0].numpy() > threshold
                if (devices & lungs).any():
                    found.append(flagged[devices & lungs].mean())
                if (lesions & lungs).any():
                    lesion_flagged.append(flagged[lesions & lungs].mean())
                lung_flagged.append(flagged[lungs & ~devices].mean())
            print(
                f"threshold {threshold}: device pixels in the lungs found "
                f"{np.mean(found):.3f} (lowest image {np.min(found):.3f}, n={len(found)}); "
                f"lesion pixels flagged {np.mean(lesion_flagged):.4f} "
                f"(highest {np.max(lesion_flagged):.4f}); other lung pixels flagged "
                f"{np.mean(lung_flagged):.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
