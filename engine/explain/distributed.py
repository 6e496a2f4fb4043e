"""Cohort explanations on Dask: an embedded LocalCluster on this machine, or an existing cluster.

Each worker loads the models once (:class:`ModelsPlugin`, with one torch thread per worker
process) and reads its images itself: a task carries a path and gets back the image's CSV rows,
so no image travels through the scheduler. Only the caller writes ``results.csv`` (rows appended
as tasks finish, in any order), which keeps the serial run's resume semantics.

A worker that dies is replaced and its task retried once elsewhere (``allowed-failures`` = 1);
an image whose task killed two workers gets an error row instead of stopping the job.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import CancelledError, InputError
from engine.explain.batch import error_row, explain_rows
from engine.explain.request import ExplainRequest

#: The worker plugin's name: a task finds the worker's models under it.
PLUGIN_NAME = "cxr-explain-models"
#: Failures of a task's worker before the scheduler gives the task up (Dask's default is 3).
ALLOWED_FAILURES = 1
#: Environment of the LocalCluster's worker processes, set before they start (one torch thread
#: each: one worker process per core).
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}


try:
    from distributed import WorkerPlugin
except ImportError:  # the cluster extra is not installed: explain_on_dask says so
    WorkerPlugin = object  # type: ignore[assignment,misc]


class ModelsPlugin(WorkerPlugin):
    """Loads the model set once per worker process; ``name`` is the run's own (two batches on
    one cluster each keep their models)."""

    def __init__(self, models_dir: str, name: str = PLUGIN_NAME) -> None:
        self.models_dir = models_dir
        self.name = name
        self.models: Any = None

    def setup(self, worker: Any) -> None:
        import torch

        from engine.inference.model_set import load_model_set

        torch.set_num_threads(1)  # one worker process per core: no oversubscription
        self.models = load_model_set(self.models_dir)

    def teardown(self, worker: Any) -> None:
        self.models = None


def explain_task(
    path: str, relative: str, request: ExplainRequest, plugin_name: str = PLUGIN_NAME
) -> list[dict[str, str]]:
    """Runs on a worker: the CSV rows of one image (an error row for a bad file)."""
    from distributed import get_worker

    plugin = get_worker().plugins[plugin_name]
    models = plugin.models  # type: ignore[attr-defined]  # ModelsPlugin's, set in setup
    return list(explain_rows(Path(path), relative, models, request))


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of ``scheduler``, or of a LocalCluster of ``workers`` one-thread processes."""
    import dask
    from distributed import Client, LocalCluster

    settings = {
        "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc hand
        # every freed tensor buffer back to the kernel and fault it in again on the next image,
        # which nearly doubled the time of an explanation (docs/benchmarks.md). The one-thread
        # settings stay; the allocator keeps glibc's own adaptive threshold.
        "distributed.nanny.pre-spawn-environ": WORKER_ENVIRONMENT,
    }
    with dask.config.set(settings):
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="20s")
            except OSError as error:
                raise InputError(f"cannot reach the Dask scheduler {scheduler} ({error})") from None
            with client:
                yield client
            return
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # Workers start with OMP threads at 1 too: torch reads it at import.
                env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


def explain_on_dask(
    images: Sequence[tuple[Path, str]],
    models_dir: Path,
    request: ExplainRequest,
    *,
    workers: int,
    scheduler: str | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Yield ``(relative path, rows)`` per image as the cluster finishes them (any order)."""
    try:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise InputError(
            "Dask is not installed: pip install -e '.[cluster]' for --workers and --scheduler"
        ) from None
    if not images:
        return
    with dask_client(workers, scheduler) as client:
        # Keys and the plugin are this run's own: another batch on the same cluster shares
        # neither its results nor its models.
        run = uuid.uuid4().hex[:12]
        plugin = f"{PLUGIN_NAME}-{run}"
        client.register_plugin(ModelsPlugin(os.fspath(models_dir.resolve()), plugin))
        dashboard = getattr(client, "dashboard_link", None)
        if scheduler is not None and dashboard:
            import logging

            logging.getLogger(__name__).info("Dask dashboard: %s", dashboard)
        futures = {
            client.submit(
                explain_task,
                os.fspath(path),
                relative,
                request,
                plugin,
                key=f"explain-{run}-{index}",
                pure=False,
            ): (path, relative)
            for index, (path, relative) in enumerate(images)
        }
        for future in as_completed(futures):
            if cancel is not None and cancel.is_set():
                client.cancel(list(futures))
                raise CancelledError("batch cancelled; rerun the same command to resume")
            path, relative = futures[future]
            try:
                rows = future.result()
            except KilledWorker:
                rows = [error_row(path, relative, "the worker explaining it died twice")]
            yield relative, rows
