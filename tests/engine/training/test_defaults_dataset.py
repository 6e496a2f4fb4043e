"""The recipe's phantom data set: the same files whether rendered in one process or several."""

from __future__ import annotations

import hashlib
from pathlib import Path

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
