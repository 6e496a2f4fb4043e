"""Can a change made at k px flip the classifier? The ceiling of a faithful generator (issue 19).

A generator at k px changes the image by a field it computes at k px; the explanation pipeline
maps that change to the file's grid and adds it there. So even a perfect generator at k px can
only remove (or add) the *band-limited* planted finding: the lesion map resampled down to k px
and back. This measures, through the user's files, whether that ideal change moves the shipped
classifier across its operating point:

- to healthy: ``diseased - lowpass_k(diseased - healthy)`` for every diseased file the classifier
  calls diseased (it qualifies); valid when it is called healthy;
- to disease: ``healthy + lowpass_k(diseased - healthy)`` for every healthy file called healthy;
  valid when it is called diseased.

``diseased`` and ``healthy`` are the two files of one ``cxr-explain phantoms --paired`` pair (same
anatomy, exposure and noise), each read by ``load_radiograph`` as the intensity every model
input starts from (``model_intensity``), lungs from the shipped segmenter on the file a change
starts from, P from :func:`engine.inference.run.classify`; ``lowpass_k`` is the engine's
antialiased resize to k px and back. At the file's own size the ideal change is exact (the
other file of the pair).

A generator at k px that flips the classifier more often than its ideal change does moves it by
something other than the planted finding: what the independent oracle then does not confirm.

    .venv/bin/python benchmarks/measure_change_resolution.py [--seed 777 780 5972993]
        [--sizes 256 512 1024] [--n 8] [--resolutions 128 192 256 384 512] [--models DIR]
        [--judge classifier|oracle] [--pairs DIR]

``--pairs DIR`` measures the pairs already in ``DIR`` instead (``healthy/NAME`` beside
``pneumoconiosis/NAME``, PNG or DICOM, e.g. the held-out files ``cxr-explain validate --work
DIR`` keeps, with the training recipe's findings), one table row group per file size.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.cli.main import main as cli
from engine.explain.pipeline import Direction, crossed
from engine.explain.validate import band_limited
from engine.inference.model_input import model_intensity
from engine.inference.model_set import ModelSet, load_model_set
from engine.inference.run import classify, segment_lungs
from engine.io.loader import load_radiograph
from engine.models.bundle import LoadedModel
from engine.resources import default_models_dir
from engine.types import FloatImage

THRESHOLD = 0.5  # the calibrated classifier's operating point


def lowpass(image: FloatImage, side: int) -> FloatImage:
    """``image`` as a field computed at ``side`` px can hold it (``validate``'s faithful
    ceiling, :func:`engine.explain.validate.band_limited`); unchanged from the file's own size
    up, where this table's rows stand for the other file of the pair."""
    if side >= max(image.shape):
        return np.asarray(image, dtype=np.float32)
    return band_limited(image, side)


@dataclass
class Tally:
    """Per resolution: qualifying images, valid ideal changes, and the P after the change."""

    qualifying: int = 0
    valid: int = 0
    probabilities: list[float] = field(default_factory=list)

    def cell(self) -> str:
        median = float(np.median(self.probabilities)) if self.probabilities else float("nan")
        return f"{self.valid}/{self.qualifying} (median P {median:.2f})"


def read(path: Path) -> FloatImage:
    """A file as every model input starts from it."""
    return model_intensity(load_radiograph(path))


def measure_pair(
    models: ModelSet,
    judge: LoadedModel,
    diseased: FloatImage,
    healthy: FloatImage,
    resolutions: list[int],
    to_healthy: dict[int, Tally],
    to_disease: dict[int, Tally],
) -> None:
    """Add one pair's ideal changes at every resolution, as ``judge`` calls them, to the
    tallies (``diseased``, ``healthy``: the two files' :func:`read`)."""
    if models.segmenter is None:
        raise SystemExit("the models have no lung segmenter")
    # Each direction's lungs from the file it starts from, as the pipeline finds them.
    lung_diseased = np.logical_or(*segment_lungs(models.segmenter, diseased))
    lung_healthy = np.logical_or(*segment_lungs(models.segmenter, healthy))
    finding = diseased - healthy
    (p_diseased,) = classify(judge, [diseased], lung_diseased)
    (p_healthy,) = classify(judge, [healthy], lung_healthy)
    for side in resolutions:
        band = lowpass(finding, side)
        removed = np.clip(diseased - band, 0.0, 1.0).astype(np.float32)
        added = np.clip(healthy + band, 0.0, 1.0).astype(np.float32)
        (p_removed,) = classify(judge, [removed], lung_diseased)
        (p_added,) = classify(judge, [added], lung_healthy)
        for tally, start, end, direction in (
            (to_healthy[side], p_diseased, p_removed, Direction.TO_HEALTHY),
            (to_disease[side], p_healthy, p_added, Direction.TO_DISEASE),
        ):
            if not crossed(start, THRESHOLD, direction):  # the file qualifies
                tally.qualifying += 1
                tally.valid += int(crossed(end, THRESHOLD, direction))
                tally.probabilities.append(float(end))


def paired_files(folder: Path) -> list[tuple[Path, Path]]:
    """(diseased, healthy) files of ``folder``'s pairs, by name."""
    pairs = []
    for diseased_file in sorted((folder / "pneumoconiosis").iterdir()):
        healthy_file = folder / "healthy" / diseased_file.name
        if diseased_file.suffix.lower() in (".png", ".dcm") and healthy_file.is_file():
            pairs.append((diseased_file, healthy_file))
    if not pairs:
        raise SystemExit(f"no healthy/pneumoconiosis pairs of one name in {folder}")
    return pairs


def print_rows(
    size: int, resolutions: list[int], to_healthy: dict[int, Tally], to_disease: dict[int, Tally]
) -> None:
    for side in resolutions:
        print(f"| {size} px | {side} px | {to_healthy[side].cell()} | {to_disease[side].cell()} |")


def measure_folder(models: ModelSet, judge: LoadedModel, args: argparse.Namespace) -> None:
    """The table for the pairs in ``args.pairs``, grouped by the diseased file's side."""

    def empty() -> dict[int, Tally]:
        return {side: Tally() for side in args.resolutions}

    tallies: dict[int, tuple[dict[int, Tally], dict[int, Tally]]] = defaultdict(
        lambda: (empty(), empty())
    )
    for diseased_file, healthy_file in paired_files(args.pairs):
        diseased = read(diseased_file)
        size = max(diseased.shape)
        measure_pair(models, judge, diseased, read(healthy_file), args.resolutions, *tallies[size])
    for size in sorted(tallies):
        print_rows(size, args.resolutions, *tallies[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, nargs="+", default=[777, 780, 5972993])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 192, 256, 384, 512])
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument(
        "--judge",
        choices=("classifier", "oracle"),
        default="classifier",
        help="whose verdict (each at its operating point)",
    )
    parser.add_argument("--pairs", type=Path, default=None, help="measure the pairs in this folder")
    args = parser.parse_args()
    models = load_model_set(args.models or default_models_dir())
    judge = models.classifier if args.judge == "classifier" else models.oracle
    if judge is None:
        raise SystemExit("the models have no oracle")
    print(f"models: {models.version_label()}; judge: {args.judge}")
    print("| file size | change computed at | to healthy: valid / qualifying | to disease |")
    print("| --- | ---: | ---: | ---: |")
    if args.pairs is not None:
        measure_folder(models, judge, args)
        return
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            to_healthy = {side: Tally() for side in args.resolutions}
            to_disease = {side: Tally() for side in args.resolutions}
            for seed in args.seed:
                out = Path(scratch) / f"ph_{size}_{seed}"
                common = ["--n", str(args.n), "--paired", "--seed", str(seed)]
                if cli(["phantoms", *common, "--size", str(size), "--out", str(out)]) != 0:
                    raise SystemExit(f"phantoms failed at {size} px, seed {seed}")
                for diseased_file, healthy_file in paired_files(out):
                    diseased, healthy = read(diseased_file), read(healthy_file)
                    measure_pair(
                        models, judge, diseased, healthy, args.resolutions, to_healthy, to_disease
                    )
            print_rows(size, args.resolutions, to_healthy, to_disease)


if __name__ == "__main__":
    main()
