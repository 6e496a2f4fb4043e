"""Phantom generation speed: ``python benchmarks/bench_phantoms.py [--size 512] [--n 60]``.

Prints images per second for healthy phantoms, diseased phantoms (each also carries its
healthy partner) and the 50/50 mix of an unpaired data set. Generation only: no file writing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from collections.abc import Callable

from engine.phantoms import DiseaseParams, IloType, PhantomParams, generate_phantom


def _rate(n: int, size: int, disease_of: Callable[[int], DiseaseParams]) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU second of this process)."""
    generate_phantom(PhantomParams(seed=10_000, size=size, disease=disease_of(0)))  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(n):
        generate_phantom(PhantomParams(seed=index, size=size, disease=disease_of(index)))
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--n", type=int, default=60)
    args = parser.parse_args()
    diseased = DiseaseParams(profusion=2, opacity_type=IloType.Q)
    cases = {
        "healthy": lambda i: DiseaseParams(),
        "diseased (q2, pair)": lambda i: diseased,
        "unpaired mix 50/50": lambda i: diseased if i % 2 else DiseaseParams(),
    }
    now = datetime.datetime.now().isoformat(timespec="seconds")
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0]
    print(f"# {now} {cpu} cpus={os.cpu_count()} load={load:.2f} size={args.size} n={args.n}")
    for name, disease_of in cases.items():
        wall, cpu = _rate(args.n, args.size, disease_of)
        print(f"{name:22s} {wall:6.1f} images/s wall clock, {cpu:6.1f} images/s per CPU second")


if __name__ == "__main__":
    main()
