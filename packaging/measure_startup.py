"""Start-up time of the frozen app, offscreen.

    .venv/bin/python packaging/measure_startup.py [dist/cxr-explain] [--runs 3]

Times, per run, with a warm file cache after one discarded run:
- ``--version``: bootloader, Python and the imports every subcommand pays (torch included);
- ``view --self-test``: until the exit of a viewer that opened the bundled sample, rendered its
  window once and closed, i.e. an upper bound of the time to a visible window with the image.
Prints the median and the load average (the numbers mean little on a loaded machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: dict[str, tuple[str, ...]] = {
    "--version": ("--version",),
    "view --self-test": ("view", "--self-test"),
}


def time_command(executable: Path, args: tuple[str, ...]) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    start = time.perf_counter()
    done = subprocess.run(
        [str(executable), *args], capture_output=True, env=env, timeout=600, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default="dist/cxr-explain", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    executable = args.bundle / "cxr-explain"
    if not executable.is_file():
        print(f"error: no frozen app at {executable} (run make package)", file=sys.stderr)
        return 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{executable} on {os.cpu_count()} CPUs, load average {load:.1f}")
    for name, command in COMMANDS.items():
        time_command(executable, command)  # warm the file cache
        times = [time_command(executable, command) for _ in range(args.runs)]
        spread = ", ".join(f"{t:.2f}" for t in times)
        print(f"  {name:18s} median {statistics.median(times):6.2f} s  ({spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
