"""Parser construction and dispatch for the engine's subcommands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from engine import __version__
from engine.cli.base import EXIT_BAD_INPUT, Subcommand, run_guarded
from engine.logs import install_redaction

# Explicit registry: a subcommand exists when it is listed here, as (name, module, attribute).
# Modules are imported only when needed: a command imports its own module alone, so `info`
# does not pay for torch and `explain` not for the training code (a fresh process's start-up
# is part of the end-to-end time users feel).
REGISTRY: tuple[tuple[str, str, str], ...] = (
    ("info", "engine.cli.info", "COMMAND"),
    ("phantoms", "engine.cli.phantoms", "COMMAND"),
    ("explain", "engine.cli.explain", "COMMAND"),
    ("figan", "engine.cli.figan", "COMMAND"),
    ("batch", "engine.cli.batch", "COMMAND"),
    ("validate", "engine.cli.validate", "COMMAND"),
    ("bench", "engine.cli.bench", "COMMAND"),
    ("train", "engine.cli.train", "COMMAND"),
    ("train-defaults", "engine.cli.train", "TRAIN_DEFAULTS_COMMAND"),
)


def load_subcommands(names: Sequence[str] | None = None) -> tuple[Subcommand, ...]:
    """The registered subcommands (all, or those named), importing their modules."""
    wanted = [entry for entry in REGISTRY if names is None or entry[0] in names]
    commands = []
    for name, module, attribute in wanted:
        command: Subcommand = getattr(importlib.import_module(module), attribute)
        if command.name != name:
            raise RuntimeError(f"registry entry {name!r} names {command.name!r}")
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
    if only in {name for name, _, _ in REGISTRY}:
        loaded = load_subcommands([only])
    elif only is not None and only in {command.name for command in extra}:
        loaded = ()
    else:  # no or an unknown command: everything, for the listing and the error message
        loaded = load_subcommands()
    for command in (*loaded, *extra):
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(command_parser)
        command_parser.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None, extra: Sequence[Subcommand] = ()) -> int:
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
    return run_guarded(command, args)
