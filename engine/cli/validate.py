"""``cxr-explain validate --out DIR``: the classifier and its explanations scored against phantom
ground truth, through files (``engine.explain.validate``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.explain.validate import FileFormat, ValidationConfig, validate
from engine.explain.validate_report import write_report
from engine.figan.explore import FIGAN_ID, load_figan_models
from engine.inference.model_set import load_model_set
from engine.phantoms import RECIPES
from engine.phantoms.population import FOREIGN_OBJECT_PROBABILITY
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
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[256, 512, 1024],
        help="phantom sizes in px, used in turn (default 256 512 1024)",
    )
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=[f.value for f in FileFormat],
        default=[f.value for f in FileFormat],
        help="file formats the phantoms are written as, in turn (default png dicom)",
    )
    parser.add_argument(
        "--findings",
        choices=sorted(RECIPES),
        default="training",
        help="what the diseased phantoms show: the shipped models' training recipe, or 'plain': "
        "the findings `cxr-explain phantoms` writes by default (contrast 1, no haze)",
    )
    parser.add_argument(
        "--devices",
        type=float,
        default=FOREIGN_OBJECT_PROBABILITY,
        metavar="P",
        help="share of anatomies with devices (pacemaker, wires, ECG leads) in both images; "
        f"raise it to measure the device/lung change ratio on more images (default "
        f"{FOREIGN_OBJECT_PROBABILITY})",
    )
    parser.add_argument(
        "--no-integrated-gradients",
        dest="integrated_gradients",
        action="store_false",
        help="leave Integrated Gradients out of the localisation table (faster)",
    )
    parser.add_argument(
        "--work", type=Path, help="keep the phantom files here (default: a temporary folder)"
    )
    parser.add_argument("--models", help="folder of model bundles (default: the shipped models)")


def _run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.devices <= 1.0:
        raise InputError(f"--devices must be in [0, 1], got {args.devices}")
    try:
        config = ValidationConfig(
            n=args.n,
            seed=args.seed,
            sizes=tuple(args.sizes),
            formats=tuple(FileFormat(f) for f in args.formats),
            recipe=RECIPES[args.findings],
            foreign_object_probability=args.devices,
            integrated_gradients=args.integrated_gradients,
            work=args.work,
        )
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
            n=max(2, min(args.n, 24)), seed=args.seed, size=min(args.sizes)
        )
        with tqdm(total=figan_config.n + 2, unit="step", file=sys.stderr, disable=None) as bar:
            figan_report = validate_figan(
                load_figan_models(folder),
                figan_config,
                progress=lambda done, total: bar.update(done - bar.n),
            )
        report["figan"] = figan_report
        extra = markdown_lines(figan_report)
    report["command"] = _command_line(args)
    write_report(report, Path(args.out), extra)
    headline = {
        "n_pairs": report["n_pairs"],
        "targets": {
            row["target"]: {"value": row["value"], "met": row["met"]} for row in report["targets"]
        },
    }
    sys.stdout.write(json.dumps(headline, indent=2) + "\n")
    return EXIT_OK


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces the report (folder names only: no user paths)."""
    words = ["cxr-explain", "validate", "--n", str(args.n), "--seed", str(args.seed)]
    words += ["--sizes", *(str(s) for s in args.sizes), "--formats", *args.formats]
    words += ["--findings", args.findings]
    if args.devices != FOREIGN_OBJECT_PROBABILITY:
        words += ["--devices", f"{args.devices:g}"]
    if not args.integrated_gradients:
        words.append("--no-integrated-gradients")
    if args.models:
        words += ["--models", Path(args.models).name]
    return " ".join([*words, "--out", Path(args.out).name])


COMMAND = Subcommand(
    name="validate",
    help="score the classifier and its explanations against phantom ground truth, through files",
    add_arguments=_add_arguments,
    run=_run,
)
