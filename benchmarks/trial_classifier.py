"""Train a candidate classifier and judge it through files by issue 18's bar, in one run.

Sized for a borrowed GPU machine (16 cores, one GPU, one command of at most 10 minutes; see
``benchmarks/device/trial.sh classifier``), and runs the same on a CPU with small numbers:

    .venv/bin/python benchmarks/trial_classifier.py --work build/trial --size 512 --width 32 \\
        --epochs 40 --anatomies 2000 --device cuda --workers 16

Stages; a rerun with the same ``--work`` reuses what is done:

1. the recipe's phantom set (``cxr-explain train-defaults``' first stage, ``--anatomies`` of
   them, noise drawn per anatomy in ``--noise-range``) in ``WORK/phantoms``;
2. a classifier with the recipe's options (input variations, shifts, cosine rate, lungs from
   the shipped segmenter) but ``--size``, ``--width``, ``--epochs`` and ``--lr``, from scratch or
   from ``--init-from``'s weights, optionally adversarially trained (``--adversarial-radius``);
   its bundle goes to ``WORK/models/classifier`` beside a copy of the shipped segmenter;
3. its operating point, chosen exactly as the shipped one's (``cxr-explain calibrate``: 300
   held-out healthy phantoms through files), in ``--workers`` processes;
4. the verdicts through files: for each ``--seed`` and ``--sizes``, the files of ``cxr-explain
   phantoms --n 8 --paired`` read by ``load_radiograph``, lungs from the shipped segmenter,
   P from :func:`engine.inference.run.classify` (the function ``explain`` and ``batch`` call),
   for the trial classifier and the shipped one side by side.

It writes ``WORK/report.md`` (the table) and ``WORK/report.json`` (every P with the finding's
profusion and type). Verdicts only: a classifier that wins here still needs its own generators'
guidance, FIGAN and ``batch`` check before it can ship (docs/training.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from trial_common import Pace, recipe_phantoms

from engine.training.adversarial import ADVERSARIAL_NORMS

#: The seeds of docs/validation/resolution.md: issue 18's three, and eight more.
DEFAULT_SEEDS = (777, 780, 5972993, 11, 2024, 273575, 31337, 4242, 430130, 907813, 4275744)
HEALTHY = "healthy"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=512, help="classifier input side (px)")
    parser.add_argument("--width", type=int, default=16, help="classifier stem channels")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--anatomies", type=int, default=1000)
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="a classifier bundle whose weights start the run (a fine-tune, e.g. the shipped one)",
    )
    parser.add_argument(
        "--adversarial-radius",
        type=float,
        default=0.0,
        help="train on the worst lung-field change of this size per pixel (0: off)",
    )
    parser.add_argument("--adversarial-steps", type=int, default=3)
    parser.add_argument(
        "--adversarial-norm",
        default="l2",
        choices=ADVERSARIAL_NORMS,
        help="what the radius bounds: l2 (RMS per lung pixel) or linf (every lung pixel)",
    )
    parser.add_argument(
        "--adversarial-clean-share",
        type=float,
        default=0.0,
        help="the loss's share of the clean images beside the adversarial ones (0: only those)",
    )
    parser.add_argument(
        "--gradient-alignment",
        type=float,
        default=0.0,
        help="weight of the term that points the gradient along each diseased image's "
        "difference from its healthy twin (0: off)",
    )
    parser.add_argument("--noise-range", type=float, nargs=2, default=(1.0, 1.0))
    parser.add_argument("--seed", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--n", type=int, default=8, help="pairs per seed and size")
    parser.add_argument("--calibration-n", type=int, default=300)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2, help="processes for files")
    parser.add_argument(
        "--train-budget-s",
        type=float,
        default=None,
        help="stop once the training is projected to take longer (checked from 5 %% of it)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny numbers (a smoke run of the stages)"
    )
    parser.add_argument(
        "--judge-only",
        action="store_true",
        help="a finished trial's verdicts at other --seed / --sizes (no training)",
    )
    return parser


def _plan(args: argparse.Namespace) -> Any:
    from engine.training.defaults_plan import DefaultsPlan

    plan = DefaultsPlan.quick() if args.quick else DefaultsPlan()
    return replace(
        plan,
        phantoms=args.anatomies,
        noise_levels=tuple(args.noise_range),
        classifier=replace(plan.classifier, size=args.size, width=args.width, epochs=args.epochs),
        batch_size=args.batch_size,
        finetune=None,
    )


def train_candidate(args: argparse.Namespace, models: Path) -> dict[str, Any]:
    """Stages 1 and 2: the phantom set and the classifier (the recipe's run, resized)."""
    from engine.resources import default_models_dir
    from engine.training.config import DeviceChoice
    from engine.training.defaults import classifier_config
    from engine.training.dispatch import train

    plan = _plan(args)
    work: Path = args.work
    started = time.monotonic()
    data = recipe_phantoms(work, plan, args.workers)
    phantoms_s = time.monotonic() - started
    segmenter = models / "segmenter"
    if not segmenter.is_dir():
        shutil.copytree(default_models_dir() / "segmenter", segmenter)
    common = {
        "data": data,
        "bundle_dir": models,
        "seed": 0,
        "device": DeviceChoice(args.device),
        "progress_bar": False,
    }
    config = classifier_config(plan, work, common, "classifier", segmenter)
    config = replace(
        config,
        lr=args.lr,
        init_from=args.init_from,
        adversarial_radius=args.adversarial_radius,
        adversarial_steps=args.adversarial_steps,
        adversarial_norm=args.adversarial_norm,
        adversarial_clean_share=args.adversarial_clean_share,
        gradient_alignment=args.gradient_alignment,
    )
    started = time.monotonic()
    pace = Pace(args.train_budget_s)
    result = train(config, progress=pace, cancel=pace.stop)
    return {
        "phantoms_s": round(phantoms_s, 1),
        "train_s": round(time.monotonic() - started, 1),
        "config": config.to_dict(path_names=True),
        "bundles": [str(path) for path in result.bundles],
    }


def calibrate(args: argparse.Namespace, models: Path) -> dict[str, Any]:
    """Stage 3: the operating point, as ``cxr-explain calibrate`` chooses it."""
    from engine.explain.operating_point import CalibrationConfig, calibrate_bundles

    config = CalibrationConfig(n=args.calibration_n)
    if args.quick:
        config = replace(config, sizes=(64, 80))
    started = time.monotonic()
    record = calibrate_bundles(models, ["classifier"], config, workers=args.workers)
    return {"calibrate_s": round(time.monotonic() - started, 1), **record["classifier"]}


def _cell(
    judges: dict[str, Path], segmenter: Path, folder: Path, seed: int, size: int, n: int
) -> list[dict[str, Any]]:
    """One ``phantoms --n N --paired`` set through files: every judge's P for every image."""
    import torch

    from engine.cli.main import main as cli
    from engine.inference.model_input import model_intensity
    from engine.inference.run import classify, segment_lungs_checked
    from engine.io import load_radiograph
    from engine.models import load_bundle
    from engine.networks import Architecture

    torch.set_num_threads(1)
    common = ["--n", str(n), "--paired", "--seed", str(seed), "--size", str(size)]
    written = (folder / "manifest.csv").is_file()
    if not written and cli(["phantoms", *common, "--out", str(folder)]) != 0:
        raise RuntimeError(f"phantoms failed: seed {seed}, {size} px")
    lungs_model = load_bundle(segmenter, Architecture.UNET, "cpu")
    models = {
        name: load_bundle(path, Architecture.CLASSIFIER, "cpu") for name, path in judges.items()
    }
    rows = []
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        for entry in csv.DictReader(handle):
            intensity = model_intensity(load_radiograph(folder / entry["file"]))
            right, left, _ = segment_lungs_checked(lungs_model, intensity)
            row: dict[str, Any] = {
                "seed": seed,
                "size": size,
                "id": entry["id"],
                "label": entry["label"],
                "profusion": int(entry["profusion"] or 0),
                "type": entry["opacity_type"],
            }
            for name, model in models.items():
                row[name] = float(classify(model, [intensity], right | left)[0])
            rows.append(row)
    return rows


def judge_through_files(args: argparse.Namespace, models: Path) -> list[dict[str, Any]]:
    """Stage 4: the P of the trial and of the shipped classifier for every file."""
    from engine.resources import default_models_dir

    judges = {"trial": models / "classifier", "shipped": default_models_dir() / "classifier"}
    segmenter = default_models_dir() / "segmenter"
    cells = [(seed, size) for seed in args.seed for size in args.sizes]
    context = multiprocessing.get_context("spawn")  # never fork a process holding torch threads
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        futures = [
            pool.submit(
                _cell, judges, segmenter, args.work / "sets" / f"{seed}_{size}", seed, size, args.n
            )
            for seed, size in cells
        ]
        return [row for future in futures for row in future.result()]


def summarise(rows: list[dict[str, Any]], judges: tuple[str, ...]) -> list[str]:
    """Markdown lines: per size and judge, right calls of each class, the seeds that meet the
    issue's bar (at most one miss per class), ROC AUC, and profusion-1 p/q findings found."""
    from sklearn.metrics import roc_auc_score

    lines = [
        "| size | classifier | healthy right | diseased right | seeds at the bar "
        "| ROC AUC | profusion 1 p/q found |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for size in sorted({row["size"] for row in rows}):
        at_size = [row for row in rows if row["size"] == size]
        seeds = sorted({row["seed"] for row in at_size})
        for judge in judges:
            healthy = [row[judge] for row in at_size if row["label"] == HEALTHY]
            diseased = [row[judge] for row in at_size if row["label"] != HEALTHY]
            passing = 0
            for seed in seeds:
                own = [row for row in at_size if row["seed"] == seed]
                misses_h = sum(row[judge] >= 0.5 for row in own if row["label"] == HEALTHY)
                misses_d = sum(row[judge] < 0.5 for row in own if row["label"] != HEALTHY)
                passing += misses_h <= 1 and misses_d <= 1
            mild = [
                row[judge]
                for row in at_size
                if row["label"] != HEALTHY and row["profusion"] == 1 and row["type"] in ("p", "q")
            ]
            auc = roc_auc_score([0] * len(healthy) + [1] * len(diseased), healthy + diseased)
            lines.append(
                f"| {size} px | {judge} | {sum(p < 0.5 for p in healthy)}/{len(healthy)} "
                f"| {sum(p >= 0.5 for p in diseased)}/{len(diseased)} | {passing}/{len(seeds)} "
                f"| {auc:.3f} | {sum(p >= 0.5 for p in mild)}/{len(mild)} |"
            )
    return lines


def judge_again(args: argparse.Namespace, models: Path) -> None:
    """Stage 4 alone, for a trial that is done: ``report_<sizes>.md`` and ``.json``."""
    config = models / "classifier" / "config.json"
    if not config.is_file() or "operating_point" not in json.loads(config.read_text())["training"]:
        raise SystemExit(f"--judge-only needs a calibrated classifier in {models}")
    rows = judge_through_files(args, models)
    name = "report_" + "_".join(str(size) for size in args.sizes)
    _write(args.work / f"{name}.json", {"rows": rows})
    _publish(args.work / f"{name}.md", rows)


def _write(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")


def _publish(path: Path, rows: list[dict[str, Any]]) -> None:
    """The verdict table of ``rows``, printed and written to ``path``."""
    table = "\n".join(summarise(rows, ("trial", "shipped")))
    path.write_text(table + "\n", encoding="utf-8")
    print(table)


def main() -> None:
    from engine.errors import CancelledError

    args = _parser().parse_args()
    if args.quick:
        args.anatomies, args.size, args.width, args.epochs = 8, 32, 4, 1
        args.seed, args.sizes, args.n, args.calibration_n = args.seed[:1], [64], 2, 20
    args.work.mkdir(parents=True, exist_ok=True)
    models = args.work / "models"
    if args.judge_only:
        judge_again(args, models)
        return
    started = time.monotonic()
    record: dict[str, Any] = {"command": vars(args) | {"work": args.work.name}}
    report = args.work / "report.json"
    try:
        record["training"] = train_candidate(args, models)
    except CancelledError:
        raise SystemExit("the training was stopped: lower --epochs or --anatomies") from None
    # Written after every stage: a trial killed at the call's limit still says how far it got.
    _write(report, record)
    record["operating_point"] = calibrate(args, models)
    _write(report, record)
    judged = time.monotonic()
    rows = judge_through_files(args, models)
    record["judge_s"] = round(time.monotonic() - judged, 1)
    record["total_s"] = round(time.monotonic() - started, 1)
    record["rows"] = rows
    _write(report, record)
    _publish(args.work / "report.md", rows)
    print(
        f"phantoms {record['training']['phantoms_s']} s, training "
        f"{record['training']['train_s']} s, calibration {record['operating_point']['calibrate_s']}"
        f" s, files {record['judge_s']} s, offset "
        f"{record['operating_point']['decision_offset']:.3f}; total {record['total_s']} s"
    )
    healthy = np.array([row["trial"] for row in rows if row["label"] == HEALTHY])
    print(f"trial healthy P: median {np.median(healthy):.3f}, max {healthy.max():.3f}")


if __name__ == "__main__":
    main()
