"""What one model's training adds to the shared loop (:class:`TrainingTask`), and its data.

A task owns its networks, optimizers and image pools, does one optimisation step, evaluates the
test split and names the bundles to write; :func:`engine.training.loop.fit` does the rest.
The torch steps the tasks share (optimizer, loss check, freezing) are in
:mod:`engine.training.optim`.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from engine.errors import InputError
from engine.networks import Architecture
from engine.training.config import TrainConfig
from engine.training.data import (
    LABELS,
    DeviceMasks,
    ImageSet,
    LungField,
    Sample,
    Split,
    load_images,
    of_split,
    scan_dataset,
    segmenter_predictor,
)
from engine.training.image_pool import ImagePool
from engine.training.optim import adam, check_finite
from engine.training.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BundleSpec:
    """One final model to write with :func:`engine.models.save_bundle`."""

    model_id: str
    module: nn.Module
    architecture: Architecture
    kwargs: Mapping[str, Any]
    description: str
    value_ranges: Mapping[str, Any]
    metrics: Mapping[str, Any]
    normalisation: Mapping[str, Any] = field(default_factory=dict)


class TrainingTask(ABC):
    """What one model's training adds to the shared loop. Subclasses own modules and optimizers.

    ``modules()`` are the unwrapped networks (checkpointed under their names), ``optimizers()``
    the optimizers (base learning rates in ``base_lrs``), ``pools()`` the image pools.
    """

    #: The options this task trains from (:func:`engine.training.loop.run_task` checks the type,
    #: :func:`engine.training.dispatch.train` picks the task by it).
    config_type: ClassVar[type[TrainConfig]]
    #: How :func:`prepare_data` loads the images for this task: the lung field (None: the
    #: config's) and which target masks come along (left/right lungs, devices).
    data_lung_field: ClassVar[LungField | None] = None
    data_with_sides: ClassVar[bool] = False

    loss_names: tuple[str, ...] = ()

    @classmethod
    def data_devices(cls, config: TrainConfig) -> DeviceMasks:
        """Whether :func:`prepare_data` loads the device masks for ``config``."""
        del config  # most tasks never read them
        return DeviceMasks.NONE

    @classmethod
    def check_before_data(cls, config: TrainConfig) -> None:
        """Refuse ``config`` for what shows without the data (InputError), before the images load:
        loading takes minutes on a large set, and the mistake should not wait for it."""
        del config  # nothing to check for most tasks

    def __init__(self, config: TrainConfig, runtime: Runtime, data: PreparedData) -> None:
        self.config = config
        self.runtime = runtime
        self.train_set = data.train
        self.test_set = data.test

    @abstractmethod
    def modules(self) -> Mapping[str, nn.Module]: ...

    @abstractmethod
    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]: ...

    def pools(self) -> Mapping[str, ImagePool]:
        return {}

    @abstractmethod
    def epoch_length(self) -> int:
        """Items in one epoch (the sampler's range)."""

    @abstractmethod
    def train_step(self, indices: Sequence[int], epoch: int, step: int) -> dict[str, float]:
        """One optimisation step on the items ``indices``; returns the losses as floats.

        Must call :func:`~engine.training.optim.check_finite` before any optimizer step.
        """

    def lr_factor(self, epoch: int) -> float:
        """Multiplier of the base learning rate during ``epoch`` (0-based)."""
        return 1.0

    @abstractmethod
    def evaluate(self) -> dict[str, Any]:
        """Metrics on the test split (JSON values; None where undefined)."""

    @abstractmethod
    def sample_rows(self) -> list[list[npt.NDArray[np.float32]]]:
        """Rows of ``(S, S)`` images in ``[0, 1]`` for the sample grid."""

    @abstractmethod
    def bundles(self, metrics: Mapping[str, Any]) -> list[BundleSpec]: ...

    def after_bundles(self, bundles: Sequence[Path]) -> None:  # noqa: B027 (optional hook)
        """Add files to the written bundle folders (e.g. the classifier's feature density)."""

    # helpers for subclasses

    def set_train_mode(self, training: bool) -> None:
        for module in self.modules().values():
            module.train(training)

    def augment(self, batch: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Random integer shift (the same for ``batch`` and ``others``), background-filled."""
        limit = round(self.config.augment_shift * self.config.size)
        if limit == 0:
            return (batch, *others)
        dy, dx = (int(v) for v in torch.randint(-limit, limit + 1, (2,)))
        shifted = []
        for tensor, fill in ((batch, -1.0), *((o, 0.0) for o in others)):
            out = torch.full_like(tensor, fill)
            h, w = tensor.shape[-2:]
            out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = tensor[
                ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
            ]
            shifted.append(out)
        return tuple(shifted)


class SupervisedTask(TrainingTask):
    """One network, one Adam optimizer, inputs and targets per batch: the segmenter and the
    classifier. Subclasses build the network and say how a batch is drawn and scored."""

    #: The network's name in checkpoints and in the optimizer table.
    network_name: ClassVar[str]

    def __init__(
        self,
        config: TrainConfig,
        runtime: Runtime,
        data: PreparedData,
        *,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(config, runtime, data)
        self.network = runtime.place(self.build_network())
        self.wrapped = runtime.wrap(self.network)
        self.optimizer = adam(self.network.parameters(), config, weight_decay)

    @abstractmethod
    def build_network(self) -> nn.Module: ...

    @abstractmethod
    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of the items ``indices``, on the runtime's device."""

    @abstractmethod
    def losses(self, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """The losses of one batch; ``"loss"`` is the one optimised."""

    def modules(self) -> Mapping[str, nn.Module]:
        return {self.network_name: self.network}

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        return {self.network_name: self.optimizer}

    def epoch_length(self) -> int:
        return len(self.train_set)

    def step_losses(
        self, indices: Sequence[int], inputs: torch.Tensor, targets: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The losses of one training step on the items ``indices``: the batch's
        :meth:`losses`; a task may add terms that need the items themselves."""
        return self.losses(inputs, targets)

    def train_step(self, indices: Sequence[int], epoch: int, step: int) -> dict[str, float]:
        inputs, targets = self.batch(indices)
        losses = self.step_losses(indices, inputs, targets)
        self.optimizer.zero_grad(set_to_none=True)
        values = check_finite(losses, step)
        losses["loss"].backward()
        self.optimizer.step()
        return values


@dataclass(frozen=True, slots=True)
class PreparedData:
    samples: tuple[Sample, ...]
    train: ImageSet
    test: ImageSet


def prepare_data(
    config: TrainConfig,
    runtime: Runtime,
    *,
    lung_field: LungField | None = None,
    with_sides: bool = False,
    devices: DeviceMasks = DeviceMasks.NONE,
    cancel: threading.Event | None = None,
) -> PreparedData:
    """Scan ``config.data`` and load both splits at ``config.size``."""
    samples = scan_dataset(config.data)
    train_samples = of_split(samples, Split.TRAIN)
    if not train_samples:
        raise InputError(f"data folder {config.data.name} has no images in the train split")
    for index, label in enumerate(LABELS):
        if not any(s.label == index for s in train_samples):
            raise InputError(f"data folder {config.data.name} has no {label} images for training")
    field_mode = config.lung_field if lung_field is None else lung_field
    predictor = None
    if config.segmenter is not None and field_mode is LungField.MASK:
        predictor = segmenter_predictor(config.segmenter, runtime.device)
    check = cancel.is_set if cancel is not None else None
    options: dict[str, Any] = {
        "lung_field": field_mode,
        "mask_predictor": predictor,
        "with_sides": with_sides,
        "devices": devices,
        "cancel": check,
    }
    train = load_images(train_samples, config.size, **options)
    test = load_images(of_split(samples, Split.TEST), config.size, **options)
    if not len(test):
        log.warning("data folder %s has no test images; test metrics are empty", config.data.name)
    return PreparedData(samples=samples, train=train, test=test)
