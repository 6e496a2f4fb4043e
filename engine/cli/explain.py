"""``cxr-explain explain PATH --out DIR``: one radiograph's explanation as files.

A fresh process spends about half its time importing torch. The isolated DICOM decoder process is
started before that import, so its own start-up (pydicom and the codecs, ~0.5 s) runs on the other
core meanwhile; hence the lazy imports in ``_run``. Reading the file in a thread during the torch
import was measured too and was no faster: both are Python imports that take turns on the GIL.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.explain.request import Direction, ExplainRequest
from engine.resources import default_models_dir
from engine.types import SourceFormat


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
    _prestart_decoder(args.path)
    # Imported here, not at the top: torch loads while the decoder process starts.
    from engine.explain.export import export_explanation, summary
    from engine.explain.pipeline import explain
    from engine.inference.model_set import load_model_set
    from engine.io import load_radiograph

    models = load_model_set(Path(args.models) if args.models else default_models_dir())
    radiograph = load_radiograph(args.path)
    result = explain(radiograph, models, request)
    try:
        export_explanation(result, out, gif=args.gif)
    except OSError as error:
        raise InputError(f"cannot write to the output folder ({error.strerror or error})") from None
    sys.stdout.write(json.dumps(summary(result) | {"out": str(out)}, indent=2) + "\n")
    return EXIT_OK


def _prestart_decoder(path: str) -> None:
    """Start the DICOM decoder process now (its imports run on the other core)."""
    from engine.io import isolation
    from engine.io.sniff import sniff_format

    try:
        with open(path, "rb") as file:
            head = file.read(132)
    except OSError:
        return  # load_radiograph reports the error
    if isolation.isolation_enabled() and sniff_format(head) is SourceFormat.DICOM:
        isolation.prestart()


COMMAND = Subcommand(
    name="explain",
    help="explain the classifier's decision on one radiograph (images, statistics, GIF)",
    add_arguments=_add_arguments,
    run=_run,
)
