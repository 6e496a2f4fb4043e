"""``cxr-explain figan PATH --component K --out DIR``: one radiograph's FIGAN feature slider.

Writes ``frame_NN.png`` (the radiograph with the component's change, frame by frame),
``generated_NN.png`` (the generator's own lung-field images at its size), ``reconstruction.png``
(the inverted image), ``figan.gif`` (original | frame | difference, labels burned in) and
``figan.json`` (requested and achieved scores and the probability per frame). Every image is
synthetic and labelled so in the GIF; nothing of the source file's metadata is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from engine.atomic import atomic_path, write_text_atomically
from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError
from engine.explain.gif import GifOptions, write_gif
from engine.io import load_radiograph
from engine.resources import default_models_dir


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="DICOM, PNG, JPEG or TIFF radiograph")
    parser.add_argument(
        "--component", type=int, required=True, help="PLS component to move (1 = the first)"
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--frames", type=int, default=9, help="slider frames (>= 2, default 9)")
    parser.add_argument(
        "--span", type=float, default=2.0, help="frames from -SPAN to +SPAN SD (default 2)"
    )
    parser.add_argument(
        "--steps", type=int, default=200, help="inversion steps (default 200; 0 = none)"
    )
    parser.add_argument("--no-gif", dest="gif", action="store_false", help="leave out figan.gif")
    parser.add_argument(
        "--models",
        help="folder with figan/, classifier/ and optionally segmenter/ (default: shipped models)",
    )


def _write_png(path: Path, image: np.ndarray) -> None:
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    with atomic_path(path) as temporary:
        Image.fromarray(pixels).save(temporary, format="PNG")


def _run(args: argparse.Namespace) -> int:
    from engine.figan.explore import ExploreRequest, explore, load_figan_models, summary

    try:
        request = ExploreRequest(
            component=args.component - 1,
            n_frames=args.frames,
            span=args.span,
            inversion_steps=args.steps,
        )
    except ValueError as error:
        message = str(error).replace("component must be >= 0", "--component must be >= 1")
        raise InputError(message) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder")
    radiograph = load_radiograph(args.path)
    models = load_figan_models(Path(args.models) if args.models else default_models_dir())
    result = explore(radiograph, models, request)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(result.sequence.frames, start=1):
            _write_png(out / f"frame_{index:02d}.png", frame.image)
        for index, image in enumerate(result.generated, start=1):
            _write_png(out / f"generated_{index:02d}.png", image)
        _write_png(out / "reconstruction.png", result.inversion.reconstruction)
        if args.gif:
            write_gif(out / "figan.gif", result.original, result.sequence, GifOptions())
        numbers = summary(result)
        write_text_atomically(out / "figan.json", json.dumps(numbers, indent=2) + "\n")
    except OSError as error:
        raise InputError(f"cannot write to the output folder ({error.strerror or error})") from None
    sys.stdout.write(json.dumps(numbers | {"out": str(out)}, indent=2) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="figan",
    help="FIGAN feature slider: move one PLS component of the classifier on one radiograph",
    add_arguments=_add_arguments,
    run=_run,
)
