"""End-to-end ``cxr-explain explain`` on a 2000 x 2000 JPEG 2000 DICOM: wall time and peak memory.

Target (issue 5): under 3 s end to end and under 1.5 GB peak memory with the shipped models on a
2-core CPU. Each run is a fresh process, as a user's command is: the time includes the Python
start, the imports, loading the models, decoding, explaining and writing every output file
(PNGs, the float TIFF, stats.json; ``--gif`` adds the GIF). Peak memory is the child's maximum
resident set size. The in-process stage timings come from ``cxr-explain bench``.

    .venv/bin/python benchmarks/bench_explain.py [--repeats 3] [--gif] [--models DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.cli.bench import write_test_dicom


def _one_run(dicom: Path, out: Path, models: str | None, gif: bool) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one ``cxr-explain explain`` process."""
    executable = Path(sys.executable).with_name("cxr-explain")  # the installed console script
    command = [str(executable), "explain", str(dicom), "--out", str(out)]
    if models:
        command += ["--models", models]
    if gif:
        command.append("--gif")
    # wait4 gives this child's own peak RSS (getrusage(RUSAGE_CHILDREN) is the max over all).
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"explain failed: {error.strip()}")
    return seconds, usage.ru_maxrss / 1024.0


def _torch_import_seconds() -> float:
    """Wall time of a Python process that imports torch and ends at once (``os._exit``, as the
    console script ends ``explain``): the floor of any fresh process that runs a model, measured
    in the same run because this machine's speed drifts by tens of per cent."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import os, torch; os._exit(0)"], check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--gif", action="store_true", help="also write the GIF")
    parser.add_argument("--models", help="model folder (default: the shipped models)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        dicom = write_test_dicom(Path(scratch), args.size)
        runs, torch_imports = [], []
        for index in range(args.repeats):  # interleaved, so both see the same machine
            runs.append(_one_run(dicom, Path(scratch) / f"out{index}", args.models, args.gif))
            torch_imports.append(_torch_import_seconds())
    report = {
        "image": f"{args.size} x {args.size} JPEG 2000 lossless DX",
        "gif": args.gif,
        "wall_s": [round(seconds, 3) for seconds, _ in runs],
        "best_wall_s": round(min(seconds for seconds, _ in runs), 3),
        "peak_rss_mb": round(max(peak for _, peak in runs), 1),
        "torch_import_s": [round(seconds, 3) for seconds in torch_imports],
        "best_wall_minus_best_torch_import_s": round(
            min(seconds for seconds, _ in runs) - min(torch_imports), 3
        ),
        "self_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
