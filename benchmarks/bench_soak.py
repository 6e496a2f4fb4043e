"""Soak benchmark: ``batch`` over many phantoms with tiny models, resident memory over time.

Run: ``nice -n 15 .venv/bin/python benchmarks/bench_soak.py``: 1,000 files copied from 100
distinct 256 px phantom DICOMs, half re-encoded as lossless JPEG 2000 so the isolated decoder
process is exercised too; tiny models at 64 px input. Prints RSS every ``--report-every``
images and the growth after warm-up; the target is < 50 MB. Results: docs/soak.md.

What it measures: the RSS of this process (which runs ``engine.explain.batch.run_batch``, what
``cxr-explain batch`` runs) and, separately, of its decoder processes, sampled after every image.
Growth = median RSS of the last ``--window`` images minus the median of the ``--window`` images
after warm-up. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import JPEG2000Lossless

from engine.explain.batch import run_batch
from engine.explain.pipeline import Direction
from engine.inference.model_set import load_model_set
from engine.phantoms.dataset import DatasetConfig, OutputFormat, write_dataset
from engine.testing import write_tiny_models

TARGET_MB = 50.0


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_rss_mb() -> float:
    """RSS of this process's children (the decoder processes)."""
    total = 0.0
    for task in Path("/proc/self/task").iterdir():
        try:
            pids = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(rss_mb(pid) for pid in pids)
    return total


def make_cohort(folder: Path, n: int, unique: int, size: int, jpeg2000_every: int) -> Path:
    """``n`` phantom DICOMs in label subfolders: ``unique`` generated ones, copied round-robin
    to distinct file names (generation, not the batch, would dominate the run time otherwise);
    every ``jpeg2000_every``-th file re-encoded as lossless JPEG 2000."""
    source = folder.parent / "generated"
    config = DatasetConfig(
        n=min(unique, n), size=size, seed=1, output_format=OutputFormat.DICOM, test_fraction=0.0
    )
    write_dataset(source, config)
    generated = sorted(source.glob("*/phantom_*.dcm"))
    if jpeg2000_every > 0:
        for path in generated[::jpeg2000_every]:
            dataset = pydicom.dcmread(path)
            dataset.compress(JPEG2000Lossless)
            dataset.save_as(path, enforce_file_format=True)
    for index in range(n):
        original = generated[index % len(generated)]
        target = folder / original.parent.name / f"image_{index:05d}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original, target)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of phantoms")
    parser.add_argument("--unique", type=int, default=100, help="distinct phantoms generated")
    parser.add_argument("--size", type=int, default=256, help="phantom side in px")
    parser.add_argument(
        "--model-size", type=int, default=64, help="input size of the tiny models (px)"
    )
    parser.add_argument("--warmup", type=int, default=100, help="images before the baseline")
    parser.add_argument("--window", type=int, default=20, help="images per median")
    parser.add_argument("--report-every", type=int, default=100)
    parser.add_argument(
        "--jpeg2000-every", type=int, default=2, help="re-encode every k-th file (0: none)"
    )
    args = parser.parse_args()
    if args.n < args.warmup + 2 * args.window:
        parser.error("--n must exceed --warmup + 2 * --window")
    if not sys.platform.startswith("linux"):
        parser.error("reads /proc: Linux only")

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        cohort = make_cohort(root / "cohort", args.n, args.unique, args.size, args.jpeg2000_every)
        generated_s = time.perf_counter() - start
        models = load_model_set(write_tiny_models(root / "models", size=args.model_size))
        samples: list[tuple[int, float, float, float]] = []  # images, seconds, rss, children
        batch_start = time.perf_counter()

        def progress(done: int, total: int) -> None:
            elapsed = time.perf_counter() - batch_start
            samples.append((done, elapsed, rss_mb(), children_rss_mb()))
            if done % args.report_every == 0 or done == total:
                print(
                    f"| {done} | {elapsed:.0f} | {samples[-1][2]:.1f} | {samples[-1][3]:.1f} |",
                    flush=True,
                )

        print(
            f"# Soak: batch over {args.n} files ({args.unique} distinct phantoms, "
            f"{args.size} px DICOM, every "
            f"{args.jpeg2000_every or 'no'}-th lossless JPEG 2000), tiny models at "
            f"{args.model_size} px\n"
        )
        print(
            f"phantoms generated in {generated_s:.0f} s; RSS before the batch {rss_mb():.1f} MB\n"
        )
        print("| images | seconds | RSS MB | decoder processes RSS MB |")
        print("|---:|---:|---:|---:|")
        summary = run_batch(cohort, root / "out", models, Direction.BOTH, progress=progress)
        total_s = time.perf_counter() - batch_start
        failures = json.loads((root / "out" / "summary.json").read_text()).get("failed", [])

    rss = [s[2] for s in samples]
    baseline = statistics.median(rss[args.warmup : args.warmup + args.window])
    final = statistics.median(rss[-args.window :])
    peak_after = max(rss[args.warmup :])
    growth = final - baseline
    print(
        f"\nimages {summary.n_images}, failed {summary.n_failed}, {total_s:.0f} s "
        f"({total_s / len(samples) * 1000:.0f} ms per image)"
    )
    print(
        f"RSS after warm-up (images {args.warmup}-{args.warmup + args.window}): "
        f"{baseline:.1f} MB; last {args.window}: {final:.1f} MB; peak after warm-up "
        f"{peak_after:.1f} MB"
    )
    for failure in failures:
        print(f"failed: {failure['file']}: {failure['error']}")
    verdict = "PASS" if growth < TARGET_MB else "FAIL"
    print(f"growth after warm-up: {growth:+.1f} MB (target < {TARGET_MB:.0f} MB): {verdict}")


if __name__ == "__main__":
    main()
