"""``cxr-explain batch DIR --out DIR``: cohort statistics and the paper's two histograms."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.explain.batch import run_batch
from engine.explain.request import Direction
from engine.inference.model_set import load_model_set
from engine.resources import default_models_dir


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folder", help="folder of radiographs (class subfolders are kept as labels)"
    )
    parser.add_argument("--out", required=True, help="output folder; rerun to resume")
    parser.add_argument(
        "--direction", choices=[d.value for d in Direction], default=Direction.BOTH.value
    )
    parser.add_argument("--models", help="folder of model bundles (default: the shipped models)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="explain on a local Dask cluster of N one-thread processes (default 1: serially)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="explain on an existing Dask cluster (e.g. tcp://host:8786); the workers must "
        "reach the images and the models at the same paths",
    )


def _run(args: argparse.Namespace) -> int:
    root = Path(args.folder)
    if not root.is_dir():
        raise InputError("the input is not a folder")
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    models_dir = Path(args.models) if args.models else default_models_dir()
    models = load_model_set(models_dir)
    bar = tqdm(total=0, unit="image", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        summary = run_batch(
            root,
            Path(args.out),
            models,
            Direction(args.direction),
            progress=progress,
            workers=args.workers,
            scheduler=args.scheduler,
            models_dir=models_dir,
        )
    finally:
        bar.close()
    report = {"images": summary.n_images, "failed": summary.n_failed, "out": str(summary.out)}
    sys.stdout.write(json.dumps(report) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="batch",
    help="explain every image of a folder: CSV, summary JSON and the cohort histograms",
    add_arguments=_add_arguments,
    run=_run,
)
