"""The shape every CLI subcommand has, and the shared error handling."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from engine.errors import EngineError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Subcommand:
    """A CLI subcommand: ``add_arguments`` fills its parser, ``run`` returns the exit code.

    ``fast_exit``: run from the console script, the process ends right after the command
    (``end_process``) instead of tearing the interpreter down; for short commands whose every
    output is closed when ``run`` returns.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    fast_exit: bool = False


def report_error(message: str) -> int:
    """Print the one-line error the CLI contract promises and return the bad-input exit code."""
    one_line = " ".join(str(message).split())
    print(f"error: {one_line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def end_process(code: int) -> NoReturn:
    """Flush the logs and standard streams, then end the process at once.

    Tearing down an interpreter that has imported torch takes 0.5-1 s on a 2-core machine
    (docs/benchmarks.md), a third of ``cxr-explain explain``. Nothing is lost: output files are
    written atomically and closed before a command returns, and decoder processes end by
    themselves when their pipe closes.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def run_guarded(
    command: Subcommand, args: argparse.Namespace, *, exit_process: bool = False
) -> int:
    """Run a subcommand, turning engine errors into the one-line contract.

    ``exit_process`` (the console script only, never a test): a ``fast_exit`` command ends the
    process with its exit code instead of returning it.
    """
    code = _run_guarded(command, args)
    if exit_process and command.fast_exit:
        end_process(code)
    return code


def _run_guarded(command: Subcommand, args: argparse.Namespace) -> int:
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
