"""Parser construction and dispatch for the engine's subcommands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from engine import __version__
from engine.cli import batch, bench, explain, info, phantoms, train, validate
from engine.cli.base import EXIT_BAD_INPUT, Subcommand, run_guarded

# Explicit registry: a subcommand exists when it is listed here.
SUBCOMMANDS: tuple[Subcommand, ...] = (
    info.COMMAND,
    phantoms.COMMAND,
    explain.COMMAND,
    batch.COMMAND,
    validate.COMMAND,
    bench.COMMAND,
    train.COMMAND,
    train.TRAIN_DEFAULTS_COMMAND,
)


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints usage plus a message; our contract is one ``error:`` line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser(extra: Sequence[Subcommand] = ()) -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(
        prog="cxr-explain",
        description="Explain a chest X-ray classifier with counterfactual images.",
    )
    parser.add_argument("--version", action="version", version=f"cxr-explain {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineErrorParser)
    for command in (*SUBCOMMANDS, *extra):
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(command_parser)
        command_parser.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None, extra: Sequence[Subcommand] = ()) -> int:
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    command: Subcommand | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    return run_guarded(command, args)
