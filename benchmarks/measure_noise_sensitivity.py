"""Does the classifier's verdict follow the detector noise? (issue 18: it must read the lungs).

Through the user's path, as the issue's check does: ``cxr-explain phantoms --paired --seed S
--size Z --noise L`` writes the files, ``cxr-explain batch`` explains them with the models, and
this prints, per size and noise level, how many healthy and diseased images batch calls right
(its ``predicted_label``), the highest healthy P and the lowest diseased P. The training
phantoms all have noise level 1; a classifier that reads the lungs gives the same verdicts at
every level.

    .venv/bin/python benchmarks/measure_noise_sensitivity.py [--n 8] [--seed 777 [780 ...]]
        [--sizes 256 512 1024] [--noise 0.5 1 1.5] [--models DIR]

With several seeds each cell sums their sets, and the last column counts the seeds whose set
has at most one miss in each class (issue 18's bar: 7 of 8 right in both).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from engine.cli.main import main as cli
from engine.explain.batch import RESULTS_FILE

HEALTHY = "healthy"  # the class folder and the label of healthy images


Verdict = tuple[float, bool]  # P(disease) and whether batch called the image healthy


def verdicts(results: Path) -> tuple[list[Verdict], list[Verdict]]:
    """P(disease) and batch's own verdict (its ``predicted_label``, at the models' threshold)
    of the healthy and of the diseased images of a batch's results file."""
    verdict: dict[str, tuple[str, Verdict]] = {}
    with results.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["status"] == "ok":  # one row per direction: the image's verdict is the same
                called_healthy = row["predicted_label"] == HEALTHY
                p = float(row["probability"])
                verdict[row["file"]] = (row["folder_label"], (p, called_healthy))
    healthy = [v for label, v in verdict.values() if label == HEALTHY]
    diseased = [v for label, v in verdict.values() if label != HEALTHY]
    return healthy, diseased


def measure(
    work: Path, n: int, seed: int, size: int, noise: float, models: Path | None
) -> tuple[list[Verdict], list[Verdict]]:
    phantoms, report = work / f"ph_{size}_{noise}", work / f"batch_{size}_{noise}"
    common = ["--n", str(n), "--paired", "--seed", str(seed), "--size", str(size)]
    if cli(["phantoms", *common, "--noise", str(noise), "--out", str(phantoms)]) != 0:
        raise SystemExit(f"phantoms failed at {size} px, noise {noise}")
    extra = ["--models", str(models)] if models is not None else []
    if cli(["batch", str(phantoms), "--out", str(report), *extra]) != 0:
        raise SystemExit(f"batch failed at {size} px, noise {noise}")
    return verdicts(report / RESULTS_FILE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="paired phantoms per cell")
    parser.add_argument("--seed", type=int, nargs="+", default=[777])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.5, 1.0, 1.5])
    parser.add_argument("--models", type=Path, default=None, help="default: the shipped models")
    args = parser.parse_args()
    print(
        "| size | noise | healthy right | diseased right | top healthy P | lowest diseased P "
        "| seeds with at most one miss per class |"
    )
    print("| --- | --- | --- | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            for noise in args.noise:
                healthy: list[Verdict] = []
                diseased: list[Verdict] = []
                passing = 0
                for seed in args.seed:
                    work = Path(folder) / str(seed)
                    work.mkdir(exist_ok=True)
                    h, d = measure(work, args.n, seed, size, noise, args.models)
                    missed_h = sum(not called_healthy for _, called_healthy in h)
                    missed_d = sum(called_healthy for _, called_healthy in d)
                    complete = len(h) == len(d) == args.n  # failed images are no pass
                    passing += complete and missed_h <= 1 and missed_d <= 1
                    healthy, diseased = healthy + h, diseased + d
                right_h = sum(called_healthy for _, called_healthy in healthy)
                right_d = sum(not called_healthy for _, called_healthy in diseased)
                top_healthy = max(p for p, _ in healthy)
                lowest_diseased = min(p for p, _ in diseased)
                print(
                    f"| {size} px | {noise:g} | {right_h}/{len(healthy)} | "
                    f"{right_d}/{len(diseased)} | {top_healthy:.2f} | {lowest_diseased:.2f} "
                    f"| {passing}/{len(args.seed)} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
