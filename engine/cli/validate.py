"""``cxr-explain validate --out DIR``: explanations scored against phantom ground truth."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.explain.validate import HEADLINE_METRICS, MAPS, ValidationConfig, validate, write_report
from engine.figan.explore import FIGAN_ID, load_figan_models
from engine.inference.model_set import load_model_set
from engine.resources import default_models_dir


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--n", type=int, default=40, help="paired phantoms (default 40)")
    parser.add_argument(
        "--seed",
        type=int,
        default=1000,
        help="phantom seed (held out from training, which uses seeds from 0)",
    )
    parser.add_argument("--size", type=int, default=256, help="phantom size in pixels")
    parser.add_argument("--models", help="folder of model bundles (default: the shipped models)")


def _run(args: argparse.Namespace) -> int:
    try:
        config = ValidationConfig(n=args.n, seed=args.seed, size=args.size)
    except ValueError as error:
        raise InputError(str(error)) from None
    folder = Path(args.models) if args.models else default_models_dir()
    models = load_model_set(folder)
    with tqdm(total=config.n, unit="pair", file=sys.stderr, disable=None) as bar:
        report = validate(models, config, progress=lambda done, total: bar.update(done - bar.n))
    extra: list[str] = []
    if (folder / FIGAN_ID).is_dir():  # the FIGAN section, when the model folder has one
        from engine.figan.validate import FiganValidationConfig, markdown_lines, validate_figan

        figan_config = FiganValidationConfig(
            n=max(2, min(args.n, 24)), seed=args.seed, size=args.size
        )
        with tqdm(total=figan_config.n + 2, unit="step", file=sys.stderr, disable=None) as bar:
            figan_report = validate_figan(
                load_figan_models(folder),
                figan_config,
                progress=lambda done, total: bar.update(done - bar.n),
            )
        report["figan"] = figan_report
        extra = markdown_lines(figan_report)
    write_report(report, Path(args.out), extra)
    keys = ["n_images", *HEADLINE_METRICS, *[f"iou_at_lesion_area_{m}" for m in MAPS]]
    sys.stdout.write(json.dumps({key: report[key] for key in keys}, indent=2) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="validate",
    help="score explanations against phantom ground truth (flip rate, localisation, NCC)",
    add_arguments=_add_arguments,
    run=_run,
)
