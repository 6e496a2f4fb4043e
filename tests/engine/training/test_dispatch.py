"""``engine.training.train`` hands each config type to its own task and the shared loop."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from engine.training import dispatch, train
from engine.training.classifier import ClassifierConfig, ClassifierTask
from engine.training.config import TrainConfig
from engine.training.cyclegan import CycleGANTask
from engine.training.cyclegan_config import CycleGANConfig
from engine.training.device_segmenter import DeviceSegmenterConfig, DeviceSegmenterTask
from engine.training.figan import FIGANConfig, FIGANTask
from engine.training.segmenter import SegmenterConfig, SegmenterTask
from engine.training.task import TrainingTask


@pytest.mark.parametrize(
    ("config_type", "task_type", "options"),
    [
        (SegmenterConfig, SegmenterTask, {}),
        (DeviceSegmenterConfig, DeviceSegmenterTask, {}),
        (ClassifierConfig, ClassifierTask, {}),
        (CycleGANConfig, CycleGANTask, {}),
        (FIGANConfig, FIGANTask, {"classifier": Path("classifier")}),
    ],
)
def test_each_config_type_reaches_its_task(
    config_type: type[TrainConfig],
    task_type: type[TrainingTask],
    options: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[TrainConfig, type[TrainingTask], dict[str, Any]]] = []

    def run_task(config: TrainConfig, task: type[TrainingTask], **kwargs: Any) -> str:
        calls.append((config, task, kwargs))
        return "result"

    monkeypatch.setattr(dispatch, "run_task", run_task)
    config = config_type(data=tmp_path / "data", out=tmp_path / "out", **options)
    cancel = threading.Event()

    def progress(step: int, total: int) -> None:
        return None

    assert train(config, cancel=cancel, progress=progress) == "result"
    assert calls == [(config, task_type, {"progress": progress, "cancel": cancel})]
    assert task_type.config_type is config_type
