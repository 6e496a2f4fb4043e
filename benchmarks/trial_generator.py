"""Train a candidate CycleGAN on the recipe's phantoms, then judge it with ``validate``.

Issue 19's generators need far more training than a 2-core CPU gives; this trains one on a
borrowed GPU inside one command (``benchmarks/device/trial.sh generator ...``) and brings the
bundles back, and judges them on the CPU machine, where ``validate`` runs without a time limit:

    # there (options after -- are `cxr-explain train cyclegan`'s; data, out and device set here)
    python3 benchmarks/trial_generator.py --work /tmp/trial --device cuda --workers 16 \\
        --train-budget-s 330 -- --size 256 --ngf 32 --ndf 32 --epochs 6 \\
        --classifier resources/models/classifier --classifier-guidance 1 --guidance-on-composite
    # here, with the returned bundles unpacked into build/trial_gan/models
    .venv/bin/python benchmarks/trial_generator.py --work build/trial_gan --validate-n 40

Stages; each is skipped when its result is there:

1. the recipe's phantom set (``cxr-explain train-defaults``' first stage) in ``WORK/phantoms``;
2. ``train cyclegan`` with the given options; the bundles ``generator_to_disease`` and
   ``generator_to_healthy`` go to ``WORK/models``;
3. with ``--validate-n N``: ``WORK/judged``, the shipped models with these two generators in
   place of the shipped ones, and ``cxr-explain validate --n N --no-integrated-gradients`` on it
   (report in ``WORK/validate``): validity as displayed and by the oracle, signed NCC, mean-change
   recovery, device change and localisation, each with its interval. With
   ``--explained-classifier DIR`` that calibrated classifier replaces the shipped one too (a
   candidate shipped classifier with generators trained for it; the FIGAN, made for the shipped
   classifier, is left out); the oracle stays the shipped one, never a guide.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from trial_common import Pace, recipe_phantoms

GENERATORS = ("generator_to_disease", "generator_to_healthy")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--anatomies", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2, help="processes for the phantoms")
    parser.add_argument("--train-budget-s", type=float, default=None)
    parser.add_argument("--validate-n", type=int, default=0, help="0: no validation here")
    parser.add_argument(
        "--explained-classifier",
        type=Path,
        default=None,
        help="a calibrated classifier bundle that replaces the shipped one in the judged set "
        "(the classifier the viewer explains; the oracle stays the shipped one)",
    )
    parser.add_argument("train_options", nargs=argparse.REMAINDER)
    return parser


def train_generators(args: argparse.Namespace, models: Path) -> dict[str, Any]:
    """Stages 1 and 2."""
    from engine.cli.main import build_parser
    from engine.cli.train import config_from
    from engine.training.defaults_plan import DefaultsPlan
    from engine.training.dispatch import train

    started = time.monotonic()
    data = recipe_phantoms(args.work, DefaultsPlan(phantoms=args.anatomies), args.workers)
    phantoms_s = time.monotonic() - started
    options = [o for o in args.train_options if o != "--"]
    argv = ["train", "cyclegan", "--data", str(data), "--out", str(args.work / "cyclegan")]
    argv += ["--bundle-dir", str(models), "--device", args.device, "--no-progress", *options]
    config = config_from(build_parser(only="train").parse_args(argv))
    pace = Pace(args.train_budget_s)
    started = time.monotonic()
    result = train(config, progress=pace, cancel=pace.stop)
    return {
        "phantoms_s": round(phantoms_s, 1),
        "train_s": round(time.monotonic() - started, 1),
        "config": config.to_dict(path_names=True),
        "test_metrics": dict(result.metrics),
    }


def validate(args: argparse.Namespace, models: Path) -> Path:
    """Stage 3: the shipped models with these generators, through ``cxr-explain validate``."""
    from engine.cli.main import main as cli
    from engine.resources import default_models_dir

    judged = args.work / "judged"
    if judged.exists():
        shutil.rmtree(judged)
    shutil.copytree(default_models_dir(), judged)
    for name in GENERATORS:
        shutil.rmtree(judged / name)
        shutil.copytree(models / name, judged / name)
    if args.explained_classifier is not None:
        shutil.rmtree(judged / "classifier")
        shutil.copytree(args.explained_classifier, judged / "classifier")
        # The shipped FIGAN was trained for the shipped classifier and refuses another one.
        shutil.rmtree(judged / "figan", ignore_errors=True)
    report = args.work / "validate"
    argv = ["validate", "--n", str(args.validate_n), "--no-integrated-gradients"]
    if cli([*argv, "--models", str(judged), "--out", str(report)]) != 0:
        raise SystemExit("validate failed")
    return report


def main() -> None:
    from engine.errors import CancelledError

    args = _parser().parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    models = args.work / "models"
    record_path = args.work / "report.json"
    if not all((models / name / "config.json").is_file() for name in GENERATORS):
        if not args.train_options:  # e.g. --validate-n with the bundles unpacked elsewhere
            raise SystemExit(f"no generator bundles in {models} and no training options")
        try:
            record = {"training": train_generators(args, models)}
        except CancelledError:
            raise SystemExit("the training was stopped: lower --epochs or --anatomies") from None
        record_path.write_text(json.dumps(record, indent=1, default=str) + "\n")
        print(json.dumps(record["training"]["test_metrics"], indent=1))
        print(
            f"phantoms {record['training']['phantoms_s']} s, training "
            f"{record['training']['train_s']} s"
        )
    if args.validate_n > 0:
        report = validate(args, models)
        print((report / "validation.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
