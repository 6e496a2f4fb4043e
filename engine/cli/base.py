"""The shape every CLI subcommand has, and the shared error handling."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import EngineError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Subcommand:
    """A CLI subcommand: ``add_arguments`` fills its parser, ``run`` returns the exit code."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def report_error(message: str) -> int:
    """Print the one-line error the CLI contract promises and return the bad-input exit code."""
    one_line = " ".join(str(message).split())
    print(f"error: {one_line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_guarded(command: Subcommand, args: argparse.Namespace) -> int:
    """Run a subcommand, turning engine errors into the one-line contract."""
    try:
        return command.run(args)
    except EngineError as error:
        return report_error(str(error))
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
