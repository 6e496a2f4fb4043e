"""The one training loop shared by every model: :func:`fit` drives any
:class:`~engine.training.task.TrainingTask` (segmenter, classifier, CycleGAN, FIGAN).

- data order: a :class:`~torch.utils.data.DistributedSampler` over the epoch's items, seeded with
  ``config.seed`` and set to the epoch, so the order is a function of (seed, epoch) alone and
  each rank of a torchrun job sees its own shard;
- progress: a tqdm bar on stderr with the losses and the ETA (main rank only), an optional
  ``progress(step, total)`` callback and a ``cancel`` event checked before every step;
- files: the per-step metrics and sample grids of :mod:`engine.training.run_files`, the
  checkpoints of :mod:`engine.training.checkpoint` (at the end of every epoch, and every
  ``checkpoint_every`` steps), and at the end the test metrics and the bundles of
  :mod:`engine.training.bundle_writer`; only rank 0 writes;
- resume: with ``config.resume`` the run continues from the checkpoint in ``config.out``
  (the options must match: :func:`engine.training.config.resume_differences`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from engine.errors import CancelledError, InputError
from engine.training.bundle_writer import write_bundles
from engine.training.checkpoint import (
    Position,
    load_checkpoint,
    read_checkpoint_index,
    save_checkpoint,
)
from engine.training.config import TrainConfig, resume_differences
from engine.training.run_files import (
    SAMPLES_FOLDER,
    TEST_METRICS_JSON,
    MetricsLog,
    write_grid,
    write_json,
)
from engine.training.runtime import seed_everything, start_runtime, stop_runtime
from engine.training.task import PreparedData, TrainingTask, prepare_data


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a finished run produced: bundle folders, test metrics, steps done."""

    out: Path
    bundles: tuple[Path, ...]
    metrics: Mapping[str, Any]
    steps: int
    epochs: int


ProgressCallback = Callable[[int, int], None]


def epoch_batches(task: TrainingTask, epoch: int) -> list[list[int]]:
    """The batches of item indices of ``epoch`` for this rank (a function of seed and epoch)."""
    config, runtime = task.config, task.runtime
    sampler: DistributedSampler[int] = DistributedSampler(
        range(task.epoch_length()),  # type: ignore[arg-type]
        num_replicas=runtime.world_size,
        rank=runtime.rank,
        shuffle=True,
        seed=config.seed,
        drop_last=False,
    )
    sampler.set_epoch(epoch)
    indices = list(sampler)
    size = config.batch_size
    n_batches = max(1, len(indices) // size)  # drop an incomplete last batch unless it is all
    return [indices[i * size : (i + 1) * size] for i in range(n_batches)]


def _set_lr(task: TrainingTask, epoch: int) -> float:
    factor = task.lr_factor(epoch)
    lr = task.config.lr * factor
    for optimizer in task.optimizers().values():
        for group in optimizer.param_groups:
            group["lr"] = lr
    return lr


def fit(
    task: TrainingTask,
    data: PreparedData,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> TrainResult:
    """Train ``task`` for ``config.epochs`` epochs (resuming when ``config.resume``), then write
    the test metrics and the bundles. See the module docstring for the files written."""
    config, runtime = task.config, task.runtime
    out = config.out
    index = read_checkpoint_index(out)
    if config.resume:
        if index is None:
            raise InputError(f"--resume: {out} holds no checkpoint to resume from")
        if index.get("model_kind") != config.KIND.value:
            raise InputError(
                f"--resume: the checkpoint in {out.name} is a {index.get('model_kind')} run, "
                f"not {config.KIND.value}"
            )
        differences = resume_differences(index.get("config", {}), config)
        if differences:
            raise InputError(
                "--resume: options differ from the checkpoint's run: "
                + ", ".join("--" + d.replace("_", "-") for d in differences)
            )
        position = load_checkpoint(task, out, index)
    else:
        if index is not None:
            raise InputError(
                f"{out} already holds a training checkpoint; pass --resume to continue it "
                "or choose another --out"
            )
        position = Position()
    if runtime.is_main:
        out.mkdir(parents=True, exist_ok=True)
    steps_per_epoch = len(epoch_batches(task, 0))
    total = config.epochs * steps_per_epoch
    metrics_log = (
        MetricsLog(out, task.loss_names, position.step if config.resume else None)
        if runtime.is_main
        else None
    )
    bar = tqdm(
        total=total,
        initial=position.step,
        file=sys.stderr,
        disable=not (config.progress_bar and runtime.is_main),
        unit="step",
        dynamic_ncols=True,
        desc=config.KIND.value,
    )
    started = time.monotonic() - position.seconds  # a resumed run goes on counting
    step = position.step
    try:
        task.set_train_mode(True)
        for epoch in range(position.epoch, config.epochs):
            lr = _set_lr(task, epoch)
            batches = epoch_batches(task, epoch)
            first = position.step_in_epoch if epoch == position.epoch else 0
            for in_epoch in range(first, len(batches)):
                if cancel is not None and cancel.is_set():
                    raise CancelledError(f"training cancelled at step {step}")
                losses = task.train_step(batches[in_epoch], epoch, step + 1)
                step += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
                if metrics_log is not None:
                    metrics_log.write(epoch, step, lr, losses, time.monotonic() - started)
                if runtime.is_main:
                    if in_epoch + 1 == len(batches):
                        elapsed = time.monotonic() - started
                        save_checkpoint(task, out, Position(epoch + 1, 0, step, elapsed))
                        if config.sample_every and (
                            (epoch + 1) % config.sample_every == 0 or epoch + 1 == config.epochs
                        ):
                            _write_samples(task, out, epoch)
                    elif config.checkpoint_every and step % config.checkpoint_every == 0:
                        elapsed = time.monotonic() - started
                        save_checkpoint(task, out, Position(epoch, in_epoch + 1, step, elapsed))
                if progress is not None:
                    progress(step, total)
        final = Position(config.epochs, 0, step)
        bundles: tuple[Path, ...] = ()
        metrics: dict[str, Any] = {}
        if runtime.is_main:
            task.set_train_mode(False)
            with torch.no_grad():
                metrics = task.evaluate()
            write_json(out / TEST_METRICS_JSON, metrics)
            bundles = write_bundles(task, data, metrics, final, time.monotonic() - started)
            with torch.no_grad():
                task.after_bundles(bundles)
        return TrainResult(
            out=out, bundles=bundles, metrics=metrics, steps=step, epochs=config.epochs
        )
    finally:
        bar.close()
        if metrics_log is not None:
            metrics_log.close()


def _write_samples(task: TrainingTask, out: Path, epoch: int) -> None:
    """Sample grid for ``epoch``, computed in eval mode without touching the RNG."""
    rng = torch.get_rng_state()
    task.set_train_mode(False)
    try:
        with torch.no_grad():
            rows = task.sample_rows()
        write_grid(out / SAMPLES_FOLDER / f"epoch_{epoch + 1:04d}.png", rows)
    finally:
        task.set_train_mode(True)
        torch.set_rng_state(rng)


def run_task(
    config: TrainConfig,
    task_type: type[TrainingTask],
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> TrainResult:
    """Start the runtime, load the data, build the task (seeded) and :func:`fit` it."""
    if not isinstance(config, task_type.config_type):
        raise TypeError(f"{task_type.__name__} needs a {task_type.config_type.__name__}")
    task_type.check_before_data(config)
    runtime = start_runtime(config.device)
    finished = False
    try:
        data = prepare_data(
            config,
            runtime,
            lung_field=task_type.data_lung_field,
            with_sides=task_type.data_with_sides,
            devices=task_type.data_devices(config),
            cancel=cancel,
        )
        seed_everything(config.seed)
        task = task_type(config, runtime, data)
        if runtime.rank > 0:
            torch.manual_seed(config.seed + 7919 * runtime.rank)
        result = fit(task, data, progress=progress, cancel=cancel)
        finished = True
        return result
    finally:
        stop_runtime(runtime, finished=finished)
