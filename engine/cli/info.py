"""``cxr-explain info PATH``: what the loader sees in a file, as JSON on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.cli.base import EXIT_OK, Subcommand
from engine.io import load_radiograph
from engine.types import Radiograph


def describe(radiograph: Radiograph, show_phi: bool = False) -> dict[str, Any]:
    """Display-safe JSON description; identifying fields only when ``show_phi`` is set."""
    info = radiograph.info
    pixels = radiograph.pixels
    description: dict[str, Any] = {
        "format": info.source_format.value,
        "rows": info.rows,
        "columns": info.columns,
        "modality": info.modality,
        "photometric_interpretation": info.photometric_interpretation,
        "transfer_syntax": info.transfer_syntax,
        "transfer_syntax_uid": info.transfer_syntax_uid,
        "bits_stored": info.bits_stored,
        "number_of_frames": info.number_of_frames,
        "inverted_polarity": radiograph.invert,
        "pixel_spacing_mm": (
            None
            if info.spacing is None
            else {
                "row": info.spacing.row_mm,
                "column": info.spacing.column_mm,
                "measured": info.spacing.kind.value,
            }
        ),
        "view_position": info.view_position,
        "manufacturer": info.manufacturer,
        "value_range": [float(pixels.min()), float(pixels.max())],
        "windows": [
            {
                "name": preset.name,
                "center": preset.center,
                "width": preset.width,
                "function": preset.function.value,
                "voi_lut": preset.lut is not None,
            }
            for preset in radiograph.presets
        ],
        "warnings": list(radiograph.warnings),
    }
    if show_phi:
        description["patient_identity"] = radiograph.identity.as_dict()
    return description


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="DICOM, PNG, JPEG or TIFF file")
    parser.add_argument(
        "--show-phi",
        action="store_true",
        help="also print patient-identifying fields (off by default)",
    )


def _run(args: argparse.Namespace) -> int:
    radiograph = load_radiograph(args.path)
    # Serialise fully before writing so a failure never leaves half a JSON on stdout.
    text = json.dumps(describe(radiograph, args.show_phi), indent=2)
    sys.stdout.write(text + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="info",
    help="print what cxr-explain reads from an image file (JSON)",
    add_arguments=_add_arguments,
    run=_run,
    fast_exit=True,
)
