"""The phantom data set of ``train-defaults``: paired anatomies at the recipe's sizes and bit
depths (devices and breast shadows only when the plan asks; the shipped recipe does not), in the
layout :mod:`engine.training.data` reads."""

from __future__ import annotations

import csv
import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import EngineError, InputError
from engine.phantoms import DiseaseParams
from engine.phantoms.pair_files import PairLayout, write_pair
from engine.phantoms.population import PopulationExtras, extras_for_seed
from engine.training.data import LABELS, MASK_FOLDER

if TYPE_CHECKING:
    from engine.training.defaults_plan import DefaultsPlan

#: Marker file that identifies a phantom data set (and makes model cards say "synthetic").
PHANTOM_MARKER = "phantoms.json"


def _pair_arguments(
    directory: Path, plan: DefaultsPlan, seed: int, index: int, disease: DiseaseParams
) -> tuple[PairLayout, str, int, DiseaseParams, int]:
    """What :func:`write_pair` needs for anatomy ``index`` (sizes in turn, its own seed)."""
    layout = PairLayout(directory, LABELS[0], LABELS[1], MASK_FOLDER)
    size = plan.phantom_sizes[index % len(plan.phantom_sizes)]
    return layout, f"phantom_{index:04d}", _anatomy_seed(seed, index), disease, size


def _anatomy_seed(seed: int, index: int) -> int:
    return seed * 100_003 + index


def recipe_extras(plan: DefaultsPlan, seed: int, index: int) -> PopulationExtras:
    """Devices, breast shadows and noise level of anatomy ``index``: its own streams, so the
    findings (drawn in order from the recipe's seed) are the same with or without them."""
    return extras_for_seed(
        _anatomy_seed(seed, index),
        plan.foreign_object_probability,
        plan.breast_probability,
        plan.noise_levels,
    )


def _sixteen_bit(plan: DefaultsPlan, index: int) -> bool:
    return plan.sixteen_bit_every > 0 and index % plan.sixteen_bit_every == 0


def write_phantom_dataset(
    directory: Path,
    plan: DefaultsPlan,
    seed: int,
    cancel: Callable[[], bool] | None = None,
    workers: int = 1,
) -> Path:
    """Write ``plan.phantoms`` paired phantoms (healthy + diseased per anatomy) in the layout.

    ``workers`` > 1 renders anatomies in that many processes; the files are identical, because
    every finding is drawn here first, in order, and each anatomy has its own seed.

    This still writes the layout itself instead of calling ``engine.phantoms.dataset.write_dataset``
    because the recipe draws every finding from a :class:`DiseaseRecipe`, which ``DatasetConfig``
    (one fixed finding) cannot express; giving ``DatasetConfig`` a recipe would let this go.
    """
    for label in LABELS:
        (directory / label).mkdir(parents=True, exist_ok=True)
    (directory / MASK_FOLDER).mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    findings = [plan.disease.draw(rng) for _ in range(plan.phantoms)]
    if workers > 1:
        _write_in_processes(directory, plan, seed, findings, cancel, workers)
    else:
        for index, disease in enumerate(findings):
            if cancel is not None and cancel():
                raise EngineError("phantom generation was cancelled")
            arguments = _pair_arguments(directory, plan, seed, index, disease)
            write_pair(
                *arguments,
                sixteen_bit=_sixteen_bit(plan, index),
                extras=recipe_extras(plan, seed, index),
            )
    n_test = max(1, round(plan.phantoms * plan.test_fraction))
    rows = []
    for index in range(plan.phantoms):
        split = "test" if index >= plan.phantoms - n_test else "train"
        rows += [{"id": f"phantom_{index:04d}", "label": label, "split": split} for label in LABELS]
    with (directory / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    (directory / PHANTOM_MARKER).write_text(
        json.dumps(recipe_marker(plan, seed), indent=2) + "\n", encoding="utf-8"
    )
    return directory


def _write_in_processes(
    directory: Path,
    plan: DefaultsPlan,
    seed: int,
    findings: list[DiseaseParams],
    cancel: Callable[[], bool] | None,
    workers: int,
) -> None:
    # Spawned, not forked: the parent may hold torch threads, which a fork copies in a bad state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = [
            pool.submit(
                write_pair,
                *_pair_arguments(directory, plan, seed, index, disease),
                sixteen_bit=_sixteen_bit(plan, index),
                extras=recipe_extras(plan, seed, index),
            )
            for index, disease in enumerate(findings)
        ]
        for future in pending:
            if cancel is not None and cancel():
                pool.shutdown(wait=True, cancel_futures=True)
                raise EngineError("phantom generation was cancelled")
            future.result()


#: The marker's "writer": the module that wrote these data sets before this one took the job over
#: (the files are the same), so folders written then are still reused.
_WRITER = "engine.training.defaults"


def recipe_marker(plan: DefaultsPlan, seed: int) -> dict[str, Any]:
    """What determines the phantom data set; a rerun reuses a data set only when this matches."""
    extras: dict[str, Any] = {
        name: value
        for name, value in (
            ("foreign_object_probability", plan.foreign_object_probability),
            ("breast_probability", plan.breast_probability),
        )
        if value > 0.0  # absent when off, as in markers written before the option existed
    }
    if plan.noise_levels != (1.0, 1.0):  # likewise absent at the documented noise
        extras["noise_levels"] = list(plan.noise_levels)
    return {
        "count": plan.phantoms,
        "sizes": list(plan.phantom_sizes),
        "sixteen_bit_every": plan.sixteen_bit_every,
        "seed": seed,
        "test_fraction": plan.test_fraction,
        **extras,
        **plan.disease.to_dict(),
        "writer": _WRITER,
    }


def reusable_data_set(data: Path, plan: DefaultsPlan, seed: int) -> bool:
    """True when ``data`` holds a finished data set of this recipe; InputError for another one."""
    marker = data / PHANTOM_MARKER
    if not marker.is_file():
        if data.exists() and any(data.iterdir()):
            raise InputError(
                f"{data} exists but is not a finished phantom data set (an interrupted run?); "
                "delete it or choose another --work"
            )
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    if recorded != recipe_marker(plan, seed):
        raise InputError(
            f"{data} holds phantoms of another recipe or seed; delete it or choose another --work"
        )
    return True
