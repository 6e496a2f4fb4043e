"""One entry for every model: :func:`train` picks the task by the type of the config it is given
and runs it through :func:`engine.training.loop.run_task`."""

from __future__ import annotations

import threading

from engine.training.classifier import ClassifierTask
from engine.training.config import TrainConfig
from engine.training.cyclegan import CycleGANTask
from engine.training.device_segmenter import DeviceSegmenterTask
from engine.training.figan import FIGANTask
from engine.training.loop import ProgressCallback, TrainResult, run_task
from engine.training.segmenter import SegmenterTask
from engine.training.task import TrainingTask

#: Every task ``cxr-explain train`` knows; each names the config type it trains from. The first
#: whose config type matches wins: the device segmenter's config is a lung segmenter's subclass.
TASKS: tuple[type[TrainingTask], ...] = (
    DeviceSegmenterTask,
    SegmenterTask,
    ClassifierTask,
    CycleGANTask,
    FIGANTask,
)


def task_for(config: TrainConfig) -> type[TrainingTask]:
    """The task that trains from ``config``; TypeError for a config no task takes."""
    for task_type in TASKS:
        if isinstance(config, task_type.config_type):
            return task_type
    raise TypeError(f"no training task takes a {type(config).__name__}")


def train(
    config: TrainConfig,
    *,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> TrainResult:
    """Train the model ``config`` describes (see :func:`engine.training.loop.fit`)."""
    return run_task(config, task_for(config), progress=progress, cancel=cancel)
