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

    Tearing down an interpreter that has imported torch takes a noticeable share of
    ``cxr-explain explain`` (docs/benchmarks.md). Nothing is lost: output files are
    written atomically and closed before a command returns, and decoder processes end by
    themselves when their pipe closes.
    """
    logging.shutdown()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away (e.g. `| head`): not an error of ours
    except (OSError, ValueError) as error:
        # The output was lost (a full disk, a closed stream): never report success then.
        # 120 is what Python exits with when it cannot flush stdout at shutdown.
        with contextlib.suppress(OSError, ValueError):
            print(f"error: cannot write the output ({type(error).__name__})", file=sys.stderr)
        code = code or 120
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
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
    except OSError as error:
        # What commands do not turn into an engine error themselves is the environment's
        # (a full disk under stdout, a vanished network share): one line, not a traceback.
        reason = error.strerror or type(error).__name__
        return report_error(f"input/output error: {reason}")
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
