"""Benchmark the paper generator's forward pass (warm, no_grad, fp32, 2 threads) on the CPU.

For each input size, attention mode (naive N x N matrix vs query-chunked), convolution path
(``nnpack``: the residual and final convolutions on NNPACK's Winograd/FFT kernels, as shipped;
``direct``: every convolution on PyTorch's default oneDNN path, ``CXR_EXPLAIN_NNPACK=0``) and
allocator setting (glibc defaults vs ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<large>``, which
keeps freed buffers in the heap instead of returning them to the kernel and page-faulting them back
in) it runs a fresh subprocess and reports:

- median warm forward time over ``--repeats`` runs after one warm-up run;
- FLOPs (``torch.utils.flop_counter.FlopCounterMode`` on the meta device: convolutions and matrix
  products of the *direct* algorithm, the same count for every row) and that count per second,
  which can exceed the matmul peak with NNPACK because Winograd needs fewer multiplications;
- the same median scaled to the issue's reference machine (matmul peak 188 GFLOP/s): each pass's
  time times the GFLOP/s of a 4096^3 matrix product (best of two) measured just before it, over
  188. This takes out part of a shared machine's drift in speed, assuming every layer slows down
  as much as the matrix product does (memory-bound layers may slow down less, so read it as an
  estimate, next to the raw median). It only compares like with like on the reference CPU type
  (2-core AMD EPYC, AVX2): on an AVX-512 Xeon the matrix product runs at 340 GFLOP/s while
  NNPACK's kernels stay AVX2, so there the column overstates the time; the header names the CPU;
- peak resident memory of the forward pass: ``ru_maxrss`` after the runs minus the resident size
  just before the first one (``tracemalloc`` does not see torch's allocations);

against the GFLOP/s of a large fp32 matrix product measured in the same run, i.e. the time floor.

Usage: ``python benchmarks/bench_generator.py [--sizes 256 512] [--repeats 3]``. Prints a
markdown table. The machine may be shared, so times are noisy: compare rows of one run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.networks import AttentionMode, CycleGANGenerator
from engine.networks.attention import DEFAULT_CHUNK_SIZE
from engine.networks.fast_conv import ENV_SWITCH as NNPACK_SWITCH

THREADS = 2
#: Matmul peak of the machine on which the issue's reference times were measured (GFLOP/s).
REFERENCE_GFLOPS = 188.0
#: Side of the square fp32 matrices whose product measures the matmul peak.
PEAK_SIZE = 4096
TUNED_MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 36)}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child(
    size: int, mode: str, repeats: int, base_width: int, chunk_size: int
) -> dict[str, float]:
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    generator = CycleGANGenerator(
        base_width=base_width, attention_mode=mode, attention_chunk_size=chunk_size
    ).eval()
    torch.nn.init.constant_(generator.attention.gamma, 0.1)  # keep the attention path non-trivial
    x = torch.rand(1, 1, size, size) * 2 - 1
    probe = MatmulProbe(PEAK_SIZE)  # allocated before the baseline, subtracted from the peak
    before = _rss_bytes()
    times, normalised = [], []
    with torch.no_grad():
        generator(x)  # warm-up: allocator, oneDNN primitive cache
        for _ in range(repeats):
            # The machine's speed drifts by +-25% over minutes: the matmul peak measured just before
            # each pass (the same 4096^3 product as the peak below: a smaller one runs further
            # from the peak) gives the speed at that moment, to scale to the reference machine.
            gflops_now = probe.gflops(repeats=2)
            start = time.perf_counter()
            generator(x)
            times.append(time.perf_counter() - start)
            normalised.append(times[-1] * gflops_now / REFERENCE_GFLOPS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {
        "seconds": statistics.median(times),
        "min_seconds": min(times),
        "reference_seconds": statistics.median(normalised),
        "peak_delta_bytes": peak - before,
        "peak_bytes": peak - probe.nbytes,
    }


def generator_flops(size: int, base_width: int) -> int:
    """FLOPs of one forward pass at ``size`` x ``size`` (counted on the meta device, no compute)."""
    with torch.device("meta"):
        generator = CycleGANGenerator(base_width=base_width)
        x = torch.zeros(1, 1, size, size)
        with FlopCounterMode(display=False) as counter:
            generator(x)
    return int(counter.get_total_flops())


class MatmulProbe:
    """GFLOP/s of an ``n x n`` fp32 matrix product with ``THREADS`` threads (operands kept)."""

    def __init__(self, n: int) -> None:
        torch.set_num_threads(THREADS)
        self.n = n
        self.a, self.b, self.out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        torch.mm(self.a, self.b, out=self.out)  # warm-up

    @property
    def nbytes(self) -> int:
        return 3 * self.n * self.n * 4

    def gflops(self, repeats: int) -> float:
        """Best of ``repeats`` products."""
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(self.a, self.b, out=self.out)
            best = min(best, time.perf_counter() - start)
        return 2 * self.n**3 / best / 1e9


def matmul_gflops(n: int = PEAK_SIZE, repeats: int = 3) -> float:
    """Best-of-``repeats`` fp32 GFLOP/s of an ``n x n`` matrix product with ``THREADS`` threads."""
    return MatmulProbe(n).gflops(repeats)


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` ("unknown CPU" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _run_child(
    size: int, mode: str, repeats: int, base_width: int, chunk_size: int, tuned: bool, nnpack: bool
) -> dict:
    env = dict(os.environ)
    for key in TUNED_MALLOC:
        env.pop(key, None)
    if tuned:
        env.update(TUNED_MALLOC)
    env[NNPACK_SWITCH] = "1" if nnpack else "0"
    env["OMP_NUM_THREADS"] = str(THREADS)
    command = [sys.executable, __file__, "--child", str(size), mode]
    command += ["--repeats", str(repeats), "--base-width", str(base_width)]
    command += ["--chunk-sizes", str(chunk_size)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"child {size} {mode} failed: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--base-width", type=int, default=64)
    parser.add_argument("--modes", nargs="+", default=[m.value for m in AttentionMode][::-1])
    parser.add_argument(
        "--chunk-sizes",
        type=int,
        nargs="+",
        default=[DEFAULT_CHUNK_SIZE],
        help="query rows per attention block, one row each (chunked mode)",
    )
    parser.add_argument("--malloc", choices=["both", "default", "tuned"], default="both")
    parser.add_argument("--conv", choices=["both", "nnpack", "direct"], default="both")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = _child(
            int(args.child[0]), args.child[1], args.repeats, args.base_width, args.chunk_sizes[0]
        )
        sys.stdout.write(json.dumps(result) + "\n")
        return 0

    peak_before = matmul_gflops()
    rows = []
    for size in args.sizes:
        flops = generator_flops(size, args.base_width)
        variants = [
            (mode, chunk)
            for mode in args.modes
            for chunk in (args.chunk_sizes if mode == AttentionMode.CHUNKED else [0])
        ]
        mallocs = {"both": (False, True), "default": (False,), "tuned": (True,)}[args.malloc]
        convs = {"both": (True, False), "nnpack": (True,), "direct": (False,)}[args.conv]
        for (mode, chunk), nnpack, tuned in itertools.product(variants, convs, mallocs):
            r = _run_child(size, mode, args.repeats, args.base_width, max(chunk, 1), tuned, nnpack)
            label = f"{mode} {chunk}" if chunk else mode
            rows.append(
                f"| {size} | {label} | {'nnpack' if nnpack else 'direct'} "
                f"| {'tuned' if tuned else 'default'} "
                f"| {r['seconds']:.2f} | {r['min_seconds']:.2f} | {r['reference_seconds']:.2f} "
                f"| {flops / 1e9:.0f} | {flops / r['seconds'] / 1e9:.0f} | {{floor_{size}}} "
                f"| {r['peak_delta_bytes'] / 2**30:.2f} | {r['peak_bytes'] / 2**30:.2f} |"
            )
            print("# " + rows[-1].replace(f"{{floor_{size}}}", "?"), file=sys.stderr, flush=True)
    peak = max(peak_before, matmul_gflops())  # best of two measurements, start and end
    print(
        f"\nGenerator base_width={args.base_width}, fp32, no_grad, {THREADS} threads, "
        f"torch {torch.__version__}, {cpu_model()}; "
        f"fp32 {PEAK_SIZE}^3 matmul peak: {peak:.0f} GFLOP/s\n"
    )
    print(
        "| size | attention | convolutions | malloc | median s | min s "
        f"| s at {REFERENCE_GFLOPS:.0f} GFLOP/s | GFLOP | GFLOP/s | floor s "
        "| peak RSS delta GiB | peak RSS GiB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    floors = {
        f"floor_{size}": f"{generator_flops(size, args.base_width) / peak / 1e9:.2f}"
        for size in args.sizes
    }
    print("\n".join(row.format(**floors) for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
