"""``cxr-explain phantoms``: write a synthetic chest radiograph data set with ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.phantoms.dataset import DatasetConfig, OutputFormat, write_dataset
from engine.phantoms.params import (
    UNIFORM_ZONES,
    UPPER_ZONE_PREDOMINANCE,
    IloType,
    LargeOpacity,
)
from engine.phantoms.population import BREAST_PROBABILITY, FOREIGN_OBJECT_PROBABILITY

ZONE_PRESETS = {"upper": UPPER_ZONE_PREDOMINANCE, "uniform": UNIFORM_ZONES}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, required=True, help="number of phantom ids to write")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--size", type=int, default=512, help="image side in px (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="data-set seed (default 0)")
    parser.add_argument(
        "--profusion",
        default="1,2,3",
        help="ILO profusion categories to draw from, comma-separated 1-3 (default 1,2,3)",
    )
    parser.add_argument(
        "--type", dest="types", default="p,q,r", help="ILO opacity types p,q,r (default all)"
    )
    parser.add_argument(
        "--no-nodules", action="store_true", help="no small opacities (brightness-only data set)"
    )
    parser.add_argument(
        "--haze", type=float, default=0.0, help="maximum diffuse haze, 0-0.8 (default 0: off)"
    )
    parser.add_argument(
        "--large",
        choices=[c.value for c in LargeOpacity],
        default=LargeOpacity.NONE.value,
        help="ILO large opacity category for diseased images (default 0: none)",
    )
    parser.add_argument(
        "--zones", choices=sorted(ZONE_PRESETS), default="upper", help="zone distribution"
    )
    parser.add_argument(
        "--foreign-objects",
        type=float,
        default=FOREIGN_OBJECT_PROBABILITY,
        metavar="P",
        help="probability of ECG leads / wires / pacemaker per image "
        f"(default {FOREIGN_OBJECT_PROBABILITY:g})",
    )
    parser.add_argument(
        "--breast",
        type=float,
        default=BREAST_PROBABILITY,
        metavar="P",
        help=f"probability of breast shadows (default {BREAST_PROBABILITY:g})",
    )
    parser.add_argument("--noise", type=float, default=1.0, help="noise level (default 1)")
    parser.add_argument(
        "--paired", action="store_true", help="write every id as a healthy/diseased pair"
    )
    parser.add_argument(
        "--test-fraction", type=float, default=0.1, help="share of ids in the test split"
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in OutputFormat],
        default=OutputFormat.PNG.value,
        help="image file format (default png)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a previous data set in --out"
    )


def _int_list(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"{name} must be comma-separated integers, got {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    profusions = _int_list(args.profusion, "--profusion")
    types = tuple(part.strip() for part in args.types.split(",") if part.strip())
    if not set(types) <= {t.value for t in IloType} or not types:
        raise InputError(f"--type must be comma-separated p, q, r, got {args.types!r}")
    try:
        config = DatasetConfig(
            n=args.n,
            size=args.size,
            seed=args.seed,
            profusions=profusions,
            opacity_types=tuple(IloType(t) for t in types),
            nodules=not args.no_nodules,
            haze=args.haze,
            large_opacity=LargeOpacity(args.large),
            zone_weights=ZONE_PRESETS[args.zones],
            foreign_object_probability=args.foreign_objects,
            breast_probability=args.breast,
            noise_level=args.noise,
            paired=args.paired,
            test_fraction=args.test_fraction,
            output_format=OutputFormat(args.format),
        )
    except ValueError as error:
        raise InputError(f"bad phantom option: {error}") from None
    with tqdm(total=config.n, unit="img", file=sys.stderr, desc="phantoms", delay=0.3) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        manifest = write_dataset(args.out, config, overwrite=args.overwrite, progress=progress)
    print(f"wrote {config.n} phantom ids to {args.out} (manifest: {manifest.name})")
    return EXIT_OK


COMMAND = Subcommand(
    name="phantoms",
    help="Write synthetic PA chest radiographs with known masks and lesions.",
    add_arguments=_add_arguments,
    run=_run,
)
