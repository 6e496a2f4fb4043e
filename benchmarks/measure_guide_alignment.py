"""Does a classifier's own gradient point at the disease? What a guide tells a generator.

A guided generator learns whatever change lowers its guide's logit. If the guide's gradient
already looks like the removed opacities, guidance can teach a faithful change; if it looks
like stripes or the lung field's edge, the generator learns those (issue 19:
docs/validation/generators.md). For each diseased file of paired folders (``cxr-explain
phantoms --paired``), read by ``load_radiograph`` with its lungs from the shipped segmenter, the
diseased file and its healthy twin are built into each classifier's input by
:func:`engine.inference.model_input.model_input` (the one input function). The planted change is
their difference inside the lung field. From the diseased input, normalised gradient steps
inside the lung field (``--step`` RMS per field pixel each) lower the logit until it is
``--margin`` below 0 or ``--steps`` are taken:

    .venv/bin/python benchmarks/measure_guide_alignment.py --pairs DIR [DIR ...] \\
        --classifiers resources/models/classifier build/robust/classifier \\
        [--picture P.png --index I]

Per classifier, over the files it calls diseased (median and range):

- ``NCC gradient``: signed NCC of the first step (minus the logit's gradient) with the planted
  change; ``NCC walk``: the same for the whole walk's change;
- ``reached``: walks that got below the margin; ``size``: RMS of the walk's change over the
  planted change's;
- ``edge``: the walk's share of the change energy within ``--band`` (fraction of the input side)
  of the field's edge, beside that band's share of the field's pixels.

``--picture``: one pair (``--index``, in sorted order), a row per classifier: the planted
change at its input and its walk's change, each scaled to its own RMS (shapes compare, sizes do
not; black: the classifier calls the file healthy).

What it cannot show: a guide whose gradient points at the disease can still be fooled by what a
generator draws (the walk follows one path; a generator searches many), and a high NCC at a
coarse input says nothing about the fine opacities the input cannot hold.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from measure_change_resolution import paired_files
from PIL import Image
from scipy import ndimage

from engine.explain.scoring import change_size_ratio, ncc
from engine.inference.model_input import model_input, model_intensity, model_window
from engine.inference.model_set import load_model_set
from engine.inference.run import model_size, segment_lungs
from engine.io.loader import load_radiograph
from engine.models.bundle import LoadedModel, load_bundle
from engine.resources import default_models_dir
from engine.types import FloatImage

TILE = 256


@dataclass(frozen=True)
class LoadedPair:
    """One pair read once for every classifier: both files as model intensities in the
    diseased file's model window (as validate's ``true_change`` builds the planted change, so the
    walk and the planted change share units), and the diseased file's segmented lungs."""

    diseased_file: Path
    diseased: FloatImage
    healthy: FloatImage
    lung: np.ndarray


def load_pairs(folders: list[Path], segmenter: LoadedModel) -> list[LoadedPair]:
    """The pairs of every ``cxr-explain phantoms --paired`` folder, read and segmented."""
    pairs = []
    for folder in folders:
        for diseased_file, healthy_file in paired_files(folder):
            source = load_radiograph(diseased_file)
            diseased = model_intensity(source)
            healthy = load_radiograph(healthy_file).display(model_window(source))
            lung = np.logical_or(*segment_lungs(segmenter, diseased))
            pairs.append(LoadedPair(diseased_file, diseased, healthy, lung))
    return pairs


def walk(
    classifier: LoadedModel, start: np.ndarray, field: np.ndarray, args: argparse.Namespace
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(first step's direction, the walk's whole change, whether it got below the margin), from
    a ``start`` the classifier calls diseased (so at least one step is taken)."""
    module = classifier.module
    inside = torch.from_numpy(field.astype(np.float32))[None, None]
    step = args.step * float(np.sqrt(field.sum()))
    image = torch.from_numpy(start.astype(np.float32))[None, None]
    current = image.clone()
    first: np.ndarray | None = None
    reached = False
    for taken in range(args.steps + 1):
        current.requires_grad_(True)
        logit = module(current).sum()
        reached = float(logit.detach()) < -args.margin
        if reached or taken == args.steps:
            break
        (gradient,) = torch.autograd.grad(logit, current)
        direction = -gradient * inside
        direction = direction / direction.norm().clamp(min=1e-12)
        if first is None:
            first = direction[0, 0].numpy().copy()
        with torch.no_grad():
            current = (current.detach() + step * direction).clamp(-1.0, 1.0)
    change = (current.detach() - image)[0, 0].numpy()
    assert first is not None, "the start was below the margin"
    return first, change, reached


@dataclass(frozen=True)
class PairWalk:
    """One diseased file's walk at a classifier's input: the planted change, the first step's
    direction and the walk's change (each ``(S, S)``, zero outside ``field``)."""

    planted: np.ndarray
    first: np.ndarray
    change: np.ndarray
    reached: bool
    field: np.ndarray


def pair_walk(
    classifier: LoadedModel, pair: LoadedPair, args: argparse.Namespace
) -> PairWalk | None:
    """The walk from the pair's diseased file; None when the classifier calls it healthy."""
    size = model_size(classifier)
    start = model_input(pair.diseased, pair.lung, size)
    twin = model_input(pair.healthy, pair.lung, size)
    field = start.lung > 0.5
    with torch.no_grad():
        logit = float(classifier.module(torch.from_numpy(start.field.copy())[None, None]).sum())
    if logit < 0:
        return None  # not called diseased: nothing to explain toward healthy
    planted = np.where(field, twin.whole - start.whole, 0.0)
    first, change, reached = walk(classifier, start.field, field, args)
    return PairWalk(planted, first, change, reached, field)


def measure(
    classifier: LoadedModel, pairs: list[LoadedPair], args: argparse.Namespace
) -> dict[str, list[float]]:
    """The table's values over the pairs the classifier calls diseased."""
    width = max(1, round(args.band * model_size(classifier)))
    rows: dict[str, list[float]] = {
        k: [] for k in ("ncc_gradient", "ncc_walk", "reached", "size", "edge", "band")
    }
    for pair in pairs:
        found = pair_walk(classifier, pair, args)
        if found is None:
            continue
        field, change, planted = found.field, found.change, found.planted
        band = field & ~ndimage.binary_erosion(field, iterations=width)
        energy = float(np.square(change, dtype=np.float64).sum())
        rows["ncc_gradient"].append(ncc(found.first[field], planted[field]))
        rows["ncc_walk"].append(ncc(change[field], planted[field]))
        rows["reached"].append(float(found.reached))
        rows["size"].append(change_size_ratio(change[field], planted[field]))
        rows["edge"].append(
            float(np.square(change[band], dtype=np.float64).sum()) / energy if energy else np.nan
        )
        rows["band"].append(float(band.sum() / field.sum()))
    return rows


def _tile(change: np.ndarray | None) -> Image.Image:
    """A change as grey (mid-grey 0, black / white at -+3 times its own RMS), TILE px."""
    if change is None:
        return Image.new("L", (TILE, TILE), 0)
    scale = 3.0 * float(np.sqrt(np.mean(np.square(change[change != 0])))) if change.any() else 1.0
    grey = np.clip(0.5 + change / (2.0 * scale), 0.0, 1.0)
    image = Image.fromarray(np.rint(grey * 255.0).astype(np.uint8))
    return image.resize((TILE, TILE), Image.Resampling.NEAREST)


def picture(
    classifiers: list[LoadedModel], pair: LoadedPair, args: argparse.Namespace
) -> Image.Image:
    """Rows: one per classifier; columns: the planted change at its input, its walk's change
    (black where a classifier calls the file healthy)."""
    sheet = Image.new("L", (2 * TILE, len(classifiers) * TILE), 0)
    for row, classifier in enumerate(classifiers):
        found = pair_walk(classifier, pair, args)
        planted = None if found is None else found.planted
        change = None if found is None else found.change
        sheet.paste(_tile(planted), (0, row * TILE))
        sheet.paste(_tile(change), (TILE, row * TILE))
    return sheet


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    data = np.asarray(values, dtype=np.float64)
    return f"{np.nanmedian(data):.2f} [{np.nanmin(data):.2f}, {np.nanmax(data):.2f}]"


HEADER = (
    "| classifier | input px | called diseased | NCC gradient | NCC walk | reached | size "
    "| edge energy (band pixels) |\n| --- | ---: | ---: | --- | --- | ---: | --- | --- |"
)


def table_row(name: Path, size: int, pairs: int, rows: dict[str, list[float]]) -> str:
    """One classifier's markdown row."""
    n = len(rows["reached"])
    cells = [
        str(name),
        str(size),
        f"{n}/{pairs}",
        _cell(rows["ncc_gradient"]),
        _cell(rows["ncc_walk"]),
        f"{int(sum(rows['reached']))}/{n}",
        _cell(rows["size"]),
        f"{_cell(rows['edge'])} ({_cell(rows['band'])})",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, nargs="+", required=True)
    parser.add_argument("--classifiers", type=Path, nargs="+", required=True, help="bundle folders")
    parser.add_argument("--models", type=Path, default=None, help="whose segmenter finds the lungs")
    parser.add_argument("--step", type=float, default=0.004, help="RMS per field pixel per step")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--margin", type=float, default=2.0, help="logit below 0 to stop at")
    parser.add_argument("--band", type=float, default=12 / 512, help="edge band, share of the side")
    parser.add_argument("--picture", type=Path, default=None, help="PNG of one pair's walks")
    parser.add_argument("--index", type=int, default=0, help="which pair --picture shows")
    args = parser.parse_args()
    if args.steps < 1 or args.margin < 0 or args.step <= 0:
        parser.error("--steps must be >= 1, --margin >= 0 and --step > 0")
    models = load_model_set(args.models or default_models_dir())
    if models.segmenter is None:
        raise SystemExit("the models have no lung segmenter")
    pairs = load_pairs(args.pairs, models.segmenter)
    print(
        f"{len(pairs)} pairs; steps of {args.step} RMS, at most {args.steps}, margin {args.margin}"
    )
    print(HEADER)
    classifiers = [load_bundle(bundle) for bundle in args.classifiers]
    for bundle, classifier in zip(args.classifiers, classifiers, strict=True):
        rows = measure(classifier, pairs, args)
        print(table_row(bundle, model_size(classifier), len(pairs), rows))
    if args.picture is not None:
        picture(classifiers, pairs[args.index], args).save(args.picture)
        print(f"{args.picture}: {pairs[args.index].diseased_file}")


if __name__ == "__main__":
    main()
