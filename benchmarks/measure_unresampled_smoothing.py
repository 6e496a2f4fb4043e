"""How much smoothing makes an image at the classifier's own size read like its neighbours?

An image whose letterbox needs no resampling skips the interpolation every other size passes
through (``engine.inference.model_input.UNRESAMPLED_SIGMA``). For each seed this writes
``cxr-explain phantoms --n N --paired`` sets at the classifier's size and one step either side,
reads them back with ``load_radiograph`` and prints, for each candidate sigma applied at the
model's size, the mean and SD of the raw-logit difference (before the operating point) between
each image and the mean of the same anatomy one step smaller and larger. The sigma whose mean
difference is nearest 0 in both classes makes the model's size read like its neighbours.

    .venv/bin/python benchmarks/measure_unresampled_smoothing.py [--seed 430130 780 ...]
        [--n 8] [--step 8] [--sigmas 0 0.3 0.4 0.5 0.7] [--models DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import engine.inference.model_input as model_input_module
from engine.cli.main import main as cli
from engine.explain.operating_point import _raw_logit
from engine.inference.model_input import model_intensity
from engine.inference.run import model_size, segment_lungs_checked
from engine.io import load_radiograph
from engine.models import LoadedModel, load_bundle
from engine.networks import Architecture
from engine.resources import default_models_dir

LABELS = ("healthy", "pneumoconiosis")


def logits(folder: Path, classifier: LoadedModel, segmenter: LoadedModel) -> dict[str, list[float]]:
    """Raw logits of a paired set's images by class, in file order."""
    found: dict[str, list[float]] = {}
    for label in LABELS:
        values = []
        for path in sorted((folder / label).glob("*.png")):
            intensity = model_intensity(load_radiograph(path))
            right, left, _ = segment_lungs_checked(segmenter, intensity)
            values.append(_raw_logit(classifier, intensity, right | left))
        found[label] = values
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, nargs="+", default=[430130, 780, 273575, 907813])
    parser.add_argument("--n", type=int, default=8, help="paired phantoms per seed")
    parser.add_argument("--step", type=int, default=8, help="px either side of the model size")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 0.3, 0.4, 0.5, 0.7])
    parser.add_argument("--models", type=Path, default=None, help="default: the shipped models")
    args = parser.parse_args()
    models = args.models or default_models_dir()
    classifier = load_bundle(models / "classifier", Architecture.CLASSIFIER, "cpu")
    segmenter = load_bundle(models / "segmenter", Architecture.UNET, "cpu")
    side = model_size(classifier)
    differences = {sigma: {label: [] for label in LABELS} for sigma in args.sigmas}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seed:
            folders = {}
            for size in (side - args.step, side, side + args.step):
                folders[size] = Path(scratch) / f"{seed}_{size}"
                common = ["--n", str(args.n), "--paired", "--seed", str(seed)]
                if cli(["phantoms", *common, "--size", str(size), "--out", str(folders[size])]):
                    raise SystemExit(f"phantoms failed for seed {seed} at {size} px")
            smaller = logits(folders[side - args.step], classifier, segmenter)
            larger = logits(folders[side + args.step], classifier, segmenter)
            for sigma in args.sigmas:
                model_input_module.UNRESAMPLED_SIGMA = sigma
                at_size = logits(folders[side], classifier, segmenter)
                for label in LABELS:
                    neighbours = (np.asarray(smaller[label]) + np.asarray(larger[label])) / 2
                    differences[sigma][label] += list(np.asarray(at_size[label]) - neighbours)
    print(f"classifier {side} px; neighbours {side - args.step} and {side + args.step} px")
    print("| sigma | healthy: mean (SD) | diseased: mean (SD) | images per class |")
    print("| ---: | ---: | ---: | ---: |")
    for sigma, by_label in differences.items():
        healthy, diseased = (np.asarray(by_label[label]) for label in LABELS)
        print(
            f"| {sigma:g} | {healthy.mean():+.2f} ({healthy.std():.2f}) | "
            f"{diseased.mean():+.2f} ({diseased.std():.2f}) | {healthy.size} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
