"""``cxr-explain explain PATH --out DIR``: one radiograph's explanation as files.

A fresh process spends about half its time importing torch. The file is read before that import
starts (``engine.io.start_loading``): a DICOM file goes to the isolated decoder process, whose
start-up, parsing and decoding then run on the other core while this process imports torch;
hence the lazy imports in ``_run``.
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
    parser.add_argument(
        "--dicom",
        action="store_true",
        help="also write the results as DICOM objects in the source's study (OUT/dicom/)",
    )
    parser.add_argument(
        "--anonymize",
        action="store_true",
        help="with --dicom: replace the patient and study identity (DICOM PS3.15 basic profile)",
    )


def _run(args: argparse.Namespace) -> int:
    if args.anonymize and not args.dicom:
        raise InputError("--anonymize applies to the --dicom outputs; add --dicom")
    try:
        request = ExplainRequest(
            direction=Direction(args.direction), n_frames=args.frames, exaggerate=args.exaggerate
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder")
    from engine.io import start_loading

    reading = start_loading(args.path)
    # Imported here, not at the top: torch loads while the decoder process reads the file.
    from engine.explain.export import export_explanation, summary
    from engine.explain.pipeline import explain
    from engine.inference.model_set import load_model_set

    radiograph = reading.result()  # a bad file is reported before the models load
    models = load_model_set(Path(args.models) if args.models else default_models_dir())
    result = explain(radiograph, models, request)
    try:
        export_explanation(result, out, gif=args.gif)
        if args.dicom:
            from engine.dicom_results.write import write_dicom_results

            write_dicom_results(result, radiograph, out, anonymize=args.anonymize)
    except OSError as error:
        raise InputError(f"cannot write to the output folder ({error.strerror or error})") from None
    sys.stdout.write(json.dumps(summary(result) | {"out": str(out)}, indent=2) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="explain",
    help="explain the classifier's decision on one radiograph (images, statistics, GIF)",
    add_arguments=_add_arguments,
    run=_run,
    fast_exit=True,
)
