"""``cxr-explain calibrate``: set the classifiers' operating point on held-out healthy phantoms
(``engine.explain.operating_point``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.explain.operating_point import FIRST_SEED, CalibrationConfig, calibrate_bundles

#: The classifier bundles of a model folder that get an operating point, when present.
CLASSIFIER_BUNDLES = ("classifier", "oracle")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", type=Path, required=True, help="model folder whose classifiers to calibrate"
    )
    parser.add_argument(
        "--n", type=int, default=300, help="held-out healthy phantoms (default 300)"
    )
    parser.add_argument(
        "--specificity",
        type=float,
        default=0.95,
        help="share of healthy images the threshold keeps below it (default 0.95)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=FIRST_SEED,
        help=f"first anatomy seed of the calibration images (default {FIRST_SEED})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes that render and read the images (default 1; the offsets do not "
        "depend on it)",
    )


def _run(args: argparse.Namespace) -> int:
    config = CalibrationConfig(n=args.n, specificity=args.specificity, first_seed=args.seed)
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    names = [name for name in CLASSIFIER_BUNDLES if (args.models / name / "config.json").is_file()]
    if "classifier" not in names or not (args.models / "segmenter").is_dir():
        raise InputError(f"{args.models} holds no classifier and segmenter bundles to calibrate")
    with tqdm(total=config.n, unit="image", file=sys.stderr, disable=None) as bar:
        records = calibrate_bundles(
            args.models,
            names,
            config,
            workers=args.workers,
            progress=lambda done, total: bar.update(done - bar.n),
        )
    summary = {
        name: {
            "decision_offset": round(record["decision_offset"], 4),
            "specificity_on_calibration_images": record["specificity_on_calibration_images"],
        }
        for name, record in records.items()
    }
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="calibrate",
    help="set the classifiers' operating point (P = 0.5) on held-out healthy phantoms",
    add_arguments=_add_arguments,
    run=_run,
)
