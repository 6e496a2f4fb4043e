"""``cxr-explain bench``: per-stage timings of one explanation and the machine's matmul speed.

Writes a 2000 x 2000 JPEG 2000 lossless DX phantom to a temporary folder, then times loading,
each stage of ``explain`` and the GIF export; prints JSON. A large fp32 matmul measured in the
same run gives the machine's reachable GFLOP/s for comparison.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from pydicom.uid import JPEG2000Lossless

from engine.cli.base import EXIT_OK, Subcommand
from engine.explain.gif import write_gif
from engine.explain.pipeline import ExplainRequest, explain
from engine.inference.model_set import load_model_set
from engine.io import load_radiograph
from engine.phantoms import DiseaseParams, IloType, generate_pair
from engine.phantoms.dicom import phantom_dataset
from engine.resources import default_models_dir


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` fp32 matmul throughput on this machine."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def write_test_dicom(folder: Path, size: int) -> Path:
    """The benchmark image: a diseased DX phantom, JPEG 2000 lossless, written into ``folder``."""
    phantom = generate_pair(7, DiseaseParams(profusion=2, opacity_type=IloType.Q), size=size)
    dataset = phantom_dataset(phantom.image, index=7, seed=7, spacing_mm=phantom.spacing_mm)
    dataset.compress(JPEG2000Lossless)
    path = folder / "bench.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return path


def run_bench(models_dir: Path, size: int, repeats: int) -> dict[str, Any]:
    models = load_model_set(models_dir)
    report: dict[str, Any] = {"image_size": size, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as scratch:
        path = write_test_dicom(Path(scratch), size)
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            radiograph = load_radiograph(path)
            loaded = time.perf_counter()
            result = explain(radiograph, models, ExplainRequest())
            explained = time.perf_counter()
            write_gif(Path(scratch) / "bench.gif", result.original, result.primary.frames)
            done = time.perf_counter()
            stages = {"load": loaded - start, **dict(result.timings), "gif": done - explained}
            runs.append(
                stages | {"end_to_end_without_gif": explained - start, "end_to_end": done - start}
            )
    best = min(runs, key=lambda stages: stages["end_to_end"])
    report["stages_s"] = {name: round(seconds, 4) for name, seconds in best.items()}
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["matmul_gflops"] = round(matmul_gflops(), 1)
    report["models"] = models.version_label()
    return report


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=2000, help="test image size (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs; the fastest is reported")
    parser.add_argument("--models", help="folder of model bundles (default: the shipped models)")


def _run(args: argparse.Namespace) -> int:
    models_dir = Path(args.models) if args.models else default_models_dir()
    report = run_bench(models_dir, args.size, max(1, args.repeats))
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="bench",
    help="time each stage of an explanation of a 2000 x 2000 DICOM (JSON)",
    add_arguments=_add_arguments,
    run=_run,
)
