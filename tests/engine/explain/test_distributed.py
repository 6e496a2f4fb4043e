"""``batch`` on Dask: the same rows as the serial run, on a LocalCluster and on a separately
started scheduler and worker; every image exactly once after a worker is killed mid-job and after
the client is killed and the command rerun."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import main
from engine.testing import write_tiny_models

pytest.importorskip("distributed", reason="Dask is not installed: pip install -e '.[cluster]'")

#: Columns that depend on the run, not the image (none today: rows must match exactly).
IMAGES = 8


def _folder(root: Path, count: int = IMAGES) -> Path:
    rng = np.random.default_rng(3)
    for index in range(count):
        label = ("healthy", "pneumoconiosis")[index % 2]
        (root / label).mkdir(parents=True, exist_ok=True)
        pixels = (rng.random((48, 40)) * 200 + 30).astype(np.uint8)
        Image.fromarray(pixels).save(root / label / f"image_{index:03d}.png")
    (root / "healthy" / "broken.png").write_bytes(b"not a png")
    return root


def _rows(out: Path) -> list[tuple[str, ...]]:
    with (out / "results.csv").open(newline="", encoding="utf-8") as stream:
        return sorted(tuple(row.values()) for row in csv.DictReader(stream))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cohort")
    return _folder(root / "images"), write_tiny_models(root / "models")


@pytest.fixture(scope="module")
def serial(cohort: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    images, models = cohort
    out = tmp_path_factory.mktemp("serial")
    assert main(["batch", str(images), "--out", str(out), "--models", str(models)]) == 0
    return out


def test_local_cluster_gives_the_serial_rows(
    cohort: tuple[Path, Path], serial: Path, tmp_path: Path
) -> None:
    images, models = cohort
    argv = ["batch", str(images), "--out", str(tmp_path), "--models", str(models)]
    assert main([*argv, "--workers", "2"]) == 0
    rows = _rows(tmp_path)
    assert rows == _rows(serial)
    assert len({row[0] for row in rows}) == IMAGES + 1  # every image once, the bad file too
    assert any(row[2] == "error" for row in rows)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A ``dask scheduler`` and a ``dask worker`` started as their own processes on localhost."""
    dask = shutil.which("dask", path=str(Path(sys.executable).parent))
    if dask is None:
        pytest.skip("the dask command is not installed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    logs = (tmp_path / "scheduler.log").open("wb"), (tmp_path / "worker.log").open("wb")
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
         "--no-dashboard"],
        stdout=logs[0], stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    worker = subprocess.Popen(
        [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
        stdout=logs[1], stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def test_an_existing_scheduler_gives_the_serial_rows(
    cohort: tuple[Path, Path], serial: Path, tmp_path: Path, dask_cluster: str
) -> None:
    images, models = cohort
    out = tmp_path / "out"
    argv = ["batch", str(images), "--out", str(out), "--models", str(models)]
    assert main([*argv, "--scheduler", dask_cluster]) == 0
    assert _rows(out) == _rows(serial)


def test_an_unreachable_scheduler_is_one_line(
    cohort: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, models = cohort
    address = f"tcp://127.0.0.1:{_free_port()}"
    argv = ["batch", str(images), "--out", str(tmp_path), "--models", str(models)]
    assert main([*argv, "--scheduler", address]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "scheduler" in error[0]


def _batch_process(images: Path, out: Path, models: Path, workers: int) -> subprocess.Popen[bytes]:
    """``cxr-explain batch`` in its own process; its stderr goes to ``out``'s sibling log."""
    script = Path(sys.executable).parent / "cxr-explain"
    command = [str(script), "batch", str(images), "--out", str(out)]
    command += ["--models", str(models), "--workers", str(workers)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with (out.parent / "batch.log").open("ab") as log:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)


def _log(out: Path) -> str:
    return (out.parent / "batch.log").read_text(errors="replace")[-2000:]


def _data_rows(out: Path) -> int:
    path = out / "results.csv"
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def _wait_for_rows(out: Path, process: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 180
    while _data_rows(out) < count:
        assert process.poll() is None, _log(out)
        assert time.monotonic() < deadline, "no rows within 180 s"
        time.sleep(0.2)


def test_killed_worker_and_killed_client_still_give_every_image_once(
    tmp_path: Path, serial: Path, cohort: tuple[Path, Path]
) -> None:
    psutil = pytest.importorskip("psutil")
    # Enough images that the job is still running when the client is killed: with the tiny
    # models one image takes milliseconds, and 24 were all done before the second kill.
    count = 160
    images = _folder(tmp_path / "many", count)
    _images, models = cohort
    out = tmp_path / "out"
    # 1. Kill one Dask worker process once the first rows are in: its tasks run elsewhere.
    process = _batch_process(images, out, models, workers=2)
    _wait_for_rows(out, process, 1)
    workers = [
        child
        for child in psutil.Process(process.pid).children(recursive=True)
        if "spawn_main" in " ".join(child.cmdline())
        or "multiprocessing" in " ".join(child.cmdline())
    ]
    assert workers, "no worker process found"
    workers[0].send_signal(signal.SIGKILL)
    # 2. Kill the client itself a little later, then rerun the same command: it resumes.
    _wait_for_rows(out, process, _data_rows(out) + 2)
    cluster = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for child in cluster:  # the killed client's cluster, orphaned now
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    rerun = _batch_process(images, out, models, workers=2)
    assert rerun.wait(timeout=300) == 0, _log(out)
    rows = _rows(out)
    # One row per image and direction (an error row for the bad file): nothing lost, nothing twice.
    keys = [(row[0], row[6]) for row in rows]
    assert len(keys) == len(set(keys)) == count * 2 + 1
    assert len({row[0] for row in rows}) == count + 1
