"""``cxr-explain explain PATH --out DIR``: one radiograph's explanation as files.

A fresh process spends most of its time importing torch; the image is read and decoded (in the
isolated decoder process, started first) in a background thread meanwhile, so that on a 2-core
machine the decoding costs no wall-clock time. Hence the lazy imports in ``_run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.explain.request import Direction, ExplainRequest
from engine.resources import default_models_dir
from engine.types import Radiograph, SourceFormat


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="DICOM, PNG, JPEG or TIFF radiograph")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument(
        "--direction",
        choices=[d.value for d in Direction],
        default=Direction.AUTO.value,
        help="translation direction (auto: toward the other class of the classifier's decision)",
    )
    parser.add_argument("--frames", type=int, default=9, help="slider frames (>= 2)")
    parser.add_argument(
        "--exaggerate",
        type=float,
        default=1.0,
        help="last slider position; > 1 extrapolates the change (max 3)",
    )
    parser.add_argument("--gif", action="store_true", help="also write explanation.gif")
    parser.add_argument("--models", help="folder of model bundles (default: the shipped models)")


def _run(args: argparse.Namespace) -> int:
    try:
        request = ExplainRequest(
            direction=Direction(args.direction), n_frames=args.frames, exaggerate=args.exaggerate
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load") as pool:
        loading = pool.submit(_load, args.path)
        # Imported here, not at the top: these pull in torch while the image loads.
        from engine.explain.export import export_explanation, summary
        from engine.explain.pipeline import explain
        from engine.inference.model_set import load_model_set

        models = load_model_set(Path(args.models) if args.models else default_models_dir())
        radiograph = loading.result()
    result = explain(radiograph, models, request)
    try:
        export_explanation(result, out, gif=args.gif)
    except OSError as error:
        raise InputError(f"cannot write to the output folder ({error.strerror or error})") from None
    sys.stdout.write(json.dumps(summary(result) | {"out": str(out)}, indent=2) + "\n")
    return EXIT_OK


def _load(path: str) -> Radiograph:
    """Read ``path``; a DICOM file's decoder process starts before pydicom is imported here."""
    from engine.io import isolation
    from engine.io.sniff import sniff_format

    try:
        with open(path, "rb") as file:
            head = file.read(132)
    except OSError:
        head = b""  # load_radiograph reports the error
    if isolation.isolation_enabled() and sniff_format(head) is SourceFormat.DICOM:
        isolation.prestart()
    from engine.io import load_radiograph

    return load_radiograph(path)


COMMAND = Subcommand(
    name="explain",
    help="explain the classifier's decision on one radiograph (images, statistics, GIF)",
    add_arguments=_add_arguments,
    run=_run,
)
