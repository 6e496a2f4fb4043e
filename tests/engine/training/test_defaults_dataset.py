"""The recipe's phantom data set: the same files whether rendered in one process or several."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.training.defaults import DefaultsPlan, write_phantom_dataset


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_phantom_workers_write_the_same_files(tmp_path: Path) -> None:
    plan = DefaultsPlan.quick()
    serial = write_phantom_dataset(tmp_path / "serial", plan, seed=5)
    parallel = write_phantom_dataset(tmp_path / "parallel", plan, seed=5, workers=2)
    files = _digests(serial)
    # healthy + diseased image and three masks per anatomy, the manifest and the recipe marker
    assert len(files) == plan.phantoms * 5 + 2
    assert files == _digests(parallel)


def test_another_seed_writes_other_phantoms(tmp_path: Path) -> None:
    plan = DefaultsPlan.quick()
    first = _digests(write_phantom_dataset(tmp_path / "a", plan, seed=5, workers=2))
    second = _digests(write_phantom_dataset(tmp_path / "b", plan, seed=6, workers=2))
    assert first["healthy/phantom_0000.png"] != second["healthy/phantom_0000.png"]


def test_two_jobs_train_the_recipe_and_a_serial_rerun_resumes_it(tmp_path: Path) -> None:
    """--jobs 2 runs the stages in their own processes with the serial run's configurations: a
    rerun with one job finds every run finished (resume checks the options) and re-exports it."""
    from engine.training.defaults import train_defaults

    out, work = tmp_path / "models", tmp_path / "work"
    first = train_defaults(out, work, quick=True, progress_bar=False, jobs=2)
    names = sorted(path.name for path in first.bundles)
    assert names == sorted(
        [
            "segmenter",
            "classifier",
            "oracle",
            "generator_to_disease",
            "generator_to_healthy",
            "figan",
        ]
    )
    offsets = _operating_points(out)
    assert set(offsets) == {"classifier", "oracle"}  # the recipe ends with the operating point
    steps = _last_steps(work)
    again = train_defaults(out, work, quick=True, progress_bar=False, jobs=1)
    assert sorted(path.name for path in again.bundles) == names
    assert _last_steps(work) == steps  # nothing trained twice
    assert _operating_points(out) == pytest.approx(offsets, abs=1e-5)  # and the same threshold


def _operating_points(out: Path) -> dict[str, float]:
    points = {}
    for name in ("classifier", "oracle"):
        config = json.loads((out / name / "config.json").read_text())
        assert config["training"]["operating_point"]["healthy_images"] == 20
        points[name] = config["architecture_kwargs"]["decision_offset"]
    return points


def _last_steps(work: Path) -> dict[str, str]:
    """The last metrics row of each run (a rerun that trained again would add rows)."""
    rows = {}
    for metrics in sorted(work.glob("*/metrics.csv")):
        rows[metrics.parent.name] = metrics.read_text().splitlines()[-1]
    return rows
