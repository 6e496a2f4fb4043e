"""Console entry point ``cxr-explain``: the engine's subcommands plus ``view``.

Kept free of Qt imports at module level so that ``cxr-explain info`` and the other engine
subcommands start without loading Qt.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Sequence

from engine.cli.base import EXIT_OK, Subcommand, report_error
from engine.cli.main import main as engine_main


def _add_view_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="image to open (default: the bundled sample)")
    parser.add_argument("--models", help="folder of model bundles (default: the shipped models)")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the image (default: the sample) headless, explain it, render and exit",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="with --self-test: save the rendered window to this PNG file",
    )


def _run_view(args: argparse.Namespace) -> int:
    if args.screenshot and not args.self_test:
        return report_error("--screenshot needs --self-test")
    # Before Qt: a missing X11 library or display is one error line, not Qt's abort. Imported
    # here so that the engine's subcommands do not pay for it (ctypes, subprocess).
    from viewer.platform_check import display_problem

    problem = display_problem(os.environ, self_test=args.self_test)
    if problem is not None:
        return report_error(problem)
    from viewer.app import run_viewer  # Qt is imported only when the viewer is wanted

    return run_viewer(
        args.path, models=args.models, self_test=args.self_test, screenshot=args.screenshot
    )


VIEW_COMMAND = Subcommand(
    name="view",
    help="open the desktop viewer",
    add_arguments=_add_view_arguments,
    run=_run_view,
)


def main(argv: Sequence[str] | None = None, *, exit_process: bool = False) -> int:
    """Run ``cxr-explain ARGV`` and return its exit code (``exit_process``: see ``entry``)."""
    multiprocessing.freeze_support()  # a frozen app must not re-spawn itself
    return engine_main(argv, extra=(VIEW_COMMAND,), exit_process=exit_process)


def entry() -> None:
    """The console script and the frozen app: short commands (``explain``, ``info``) end the
    process as soon as they are done (``engine.cli.base.end_process``)."""
    sys.exit(main(exit_process=True))


if __name__ == "__main__":
    entry()

__all__ = ["EXIT_OK", "entry", "main"]
