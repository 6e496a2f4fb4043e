"""Parser construction and dispatch for the engine's subcommands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NamedTuple

from engine import __version__
from engine.cli.base import EXIT_BAD_INPUT, Subcommand, run_guarded
from engine.logs import install_redaction


class Registered(NamedTuple):
    """One registry entry: the command's name and one-line help, and where its code lives."""

    name: str
    module: str
    attribute: str
    help: str  # the same text as the Subcommand's (a test checks): listing imports nothing


# Explicit registry: a subcommand exists when it is listed here. Modules are imported only when
# needed: a command imports its own module alone, so `info` does not pay for torch and `explain`
# not for the training code, and `--version`, `--help` and usage errors import none (a fresh
# process's start-up is part of the end-to-end time users feel).
REGISTRY: tuple[Registered, ...] = (
    Registered(
        "info",
        "engine.cli.info",
        "COMMAND",
        "print what cxr-explain reads from an image file (JSON)",
    ),
    Registered(
        "phantoms",
        "engine.cli.phantoms",
        "COMMAND",
        "Write synthetic PA chest radiographs with known masks and lesions.",
    ),
    Registered(
        "explain",
        "engine.cli.explain",
        "COMMAND",
        "explain the classifier's decision on one radiograph (images, statistics, GIF)",
    ),
    Registered(
        "figan",
        "engine.cli.figan",
        "COMMAND",
        "FIGAN feature slider: move one PLS component of the classifier on one radiograph",
    ),
    Registered(
        "batch",
        "engine.cli.batch",
        "COMMAND",
        "explain every image of a folder: CSV, summary JSON and the cohort histograms",
    ),
    Registered(
        "validate",
        "engine.cli.validate",
        "COMMAND",
        "score the classifier and its explanations against phantom ground truth, through files",
    ),
    Registered(
        "calibrate",
        "engine.cli.calibrate",
        "COMMAND",
        "set the classifiers' operating point (P = 0.5) on held-out healthy phantoms",
    ),
    Registered(
        "pacs",
        "engine.cli.pacs",
        "COMMAND",
        "talk to a PACS: echo, find studies, get a study, send DICOM files",
    ),
    Registered(
        "bench",
        "engine.cli.bench",
        "COMMAND",
        "time each stage of an explanation of a 2000 x 2000 DICOM (JSON)",
    ),
    Registered(
        "train",
        "engine.cli.train",
        "COMMAND",
        "train the segmenter, the classifier, the CycleGAN or FIGAN from a data folder",
    ),
    Registered(
        "train-defaults",
        "engine.cli.train",
        "TRAIN_DEFAULTS_COMMAND",
        "generate phantoms and train the shipped default models (the recorded recipe)",
    ),
)


def load_subcommands(names: Sequence[str] | None = None) -> tuple[Subcommand, ...]:
    """The registered subcommands (all, or those named), importing their modules."""
    wanted = [entry for entry in REGISTRY if names is None or entry.name in names]
    commands = []
    for entry in wanted:
        command: Subcommand = getattr(importlib.import_module(entry.module), entry.attribute)
        if command.name != entry.name:
            raise RuntimeError(f"registry entry {entry.name!r} names {command.name!r}")
        commands.append(command)
    return tuple(commands)


def _requested(argv: Sequence[str]) -> str | None:
    """The subcommand name in ``argv`` (the first argument that is not an option), if any."""
    for argument in argv:
        if not argument.startswith("-"):
            return argument
    return None


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints usage plus a message; our contract is one ``error:`` line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser(
    extra: Sequence[Subcommand] = (), only: str | None = None
) -> argparse.ArgumentParser:
    """The parser; with ``only`` naming a registered subcommand, that one alone is loaded."""
    parser = _OneLineErrorParser(
        prog="cxr-explain",
        description="Explain a chest X-ray classifier with counterfactual images.",
    )
    parser.add_argument("--version", action="version", version=f"cxr-explain {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineErrorParser)
    if only in {entry.name for entry in REGISTRY}:
        loaded = load_subcommands([only])
        listed: tuple[Registered, ...] = ()
    else:  # no or an unknown command: the listing (help, --version, the error) imports nothing
        loaded = ()
        listed = REGISTRY
    for command in (*loaded, *extra):
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(command_parser)
        command_parser.set_defaults(_command=command)
    for entry in listed:
        sub.add_parser(entry.name, help=entry.help, description=entry.help)
    return parser


def main(
    argv: Sequence[str] | None = None,
    extra: Sequence[Subcommand] = (),
    *,
    exit_process: bool = False,
) -> int:
    """Run ``cxr-explain ARGV``; ``exit_process``: see ``engine.cli.base.run_guarded``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(extra, only=_requested(arguments))
    args = parser.parse_args(arguments)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Logs, pydicom's warnings and crash tracebacks quote DICOM values and file paths.
    install_redaction()
    command: Subcommand | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    return run_guarded(command, args, exit_process=exit_process)
