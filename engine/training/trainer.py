"""Machinery shared by the three trainers: configuration, devices, DDP, the loop, checkpoints.

One loop (:func:`fit`) drives any :class:`TrainingTask` (segmenter, classifier, CycleGAN):

- data order: a :class:`~torch.utils.data.DistributedSampler` over the epoch's items, seeded with
  ``config.seed`` and set to the epoch, so the order is a function of (seed, epoch) alone and
  each rank of a torchrun job sees its own shard;
- progress: a tqdm bar on stderr with the losses and the ETA (main rank only), an optional
  ``progress(step, total)`` callback and a ``cancel`` event checked before every step;
- logging: one CSV row per step in ``OUT/metrics.csv`` (TensorBoard too when importable), sample
  grids ``OUT/samples/epoch_NNNN.png``;
- checkpoints: ``OUT/checkpoint/step_NNNNNNNN.safetensors`` (weights, optimizer tensors, image
  pools, RNG states as uint8 tensors) and ``OUT/checkpoint/latest.json`` (position, non-tensor
  optimizer state, config, the SHA-256 of the tensor file). Both are written to a temporary file
  and moved into place with ``os.replace``; ``latest.json`` is written last and is the commit
  point, so a kill at any moment leaves the previous complete checkpoint. No pickle anywhere.
- resume: restores every tensor, RNG state and the position inside the epoch, so an interrupted
  and resumed run gives bit-identical weights to an uninterrupted one (same device and threads);
- NaN/inf: any non-finite loss stops training with a one-line :class:`TrainingError` naming the
  step, before the optimizer step can spread it into the weights;
- devices: ``auto`` = CUDA, then MPS, then CPU; bf16 autocast and channels_last on CUDA only;
- DDP: with ``WORLD_SIZE > 1`` (torchrun) the process group is started (``nccl`` on CUDA,
  ``gloo`` otherwise), modules are wrapped in DistributedDataParallel, and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import inspect
import json
import logging
import math
import os
import shlex
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, TextIO

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from engine.atomic import atomic_path
from engine.errors import CancelledError, EngineError, InputError, ModelError
from engine.networks import Architecture
from engine.training.data import (
    LABELS,
    ImageSet,
    LungField,
    Sample,
    Split,
    load_images,
    of_split,
    scan_dataset,
    segmenter_predictor,
    split_counts,
)
from engine.training.image_pool import ImagePool

log = logging.getLogger(__name__)

CHECKPOINT_FOLDER = "checkpoint"
CHECKPOINT_INDEX = "latest.json"
CHECKPOINT_FORMAT = 1
METRICS_CSV = "metrics.csv"
TEST_METRICS_JSON = "test_metrics.json"
SAMPLES_FOLDER = "samples"
NORMALISATION_INPUT = (
    "engine.inference.model_input: model-window intensity [0,1] (0.5-99.5 percentiles of the "
    "modality values, polarity applied) * 2 - 1, letterboxed; lung field from the full-resolution "
    "mask (area share >= 0.5), background -1"
)


class TrainingError(EngineError):
    """Training cannot go on (non-finite loss, unusable checkpoint, bad configuration)."""


class DeviceChoice(StrEnum):
    AUTO = "auto"  # CUDA, then MPS, then CPU
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


class ModelKind(StrEnum):
    """What ``cxr-explain train`` can train."""

    SEGMENTER = "segmenter"
    CLASSIFIER = "classifier"
    CYCLEGAN = "cyclegan"
    FIGAN = "figan"


# --------------------------------------------------------------------------- configuration


def check_option(condition: bool, option: str, message: str, value: object) -> None:
    if not condition:
        raise InputError(f"--{option} {message}, got {value!r}")


#: Fields that may differ between a run and its resumption (they do not change the result).
_RESUMABLE_DIFFERENCES = frozenset(
    {"data", "out", "bundle_dir", "device", "resume", "progress_bar", "sample_every"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """Options every trainer has. Subclasses set per-model defaults and add their own fields.

    ``data``: the folder layout of :mod:`engine.training.data`; ``out``: run folder (checkpoint,
    metrics, samples, and the bundles unless ``bundle_dir`` is given). ``size``: square model
    input side in px. ``augment_shift``: largest random shift as a fraction of ``size`` (0 =
    off; radiographs are never flipped: left/right is anatomy). ``checkpoint_every``: steps
    between mid-epoch checkpoints (0: at the end of every epoch only). ``sample_every``: epochs
    between sample grids (0: none).
    """

    KIND: ClassVar[ModelKind]

    data: Path
    out: Path
    bundle_dir: Path | None = None
    size: int = 128
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    seed: int = 0
    device: DeviceChoice = DeviceChoice.AUTO
    lung_field: LungField = LungField.MASK
    segmenter: Path | None = None
    augment_shift: float = 0.0
    checkpoint_every: int = 0
    sample_every: int = 1
    progress_bar: bool = True
    resume: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "data", Path(self.data))
        set_(self, "out", Path(self.out))
        for name in ("bundle_dir", "segmenter"):
            value = getattr(self, name)
            set_(self, name, None if value is None else Path(value))
        try:
            set_(self, "device", DeviceChoice(self.device))
            set_(self, "lung_field", LungField(self.lung_field))
        except ValueError as error:
            raise InputError(str(error)) from None
        for name in ("size", "epochs", "batch_size"):
            value = getattr(self, name)
            check_option(
                isinstance(value, int) and value >= 1, name.replace("_", "-"), "must be >= 1", value
            )
        check_option(self.seed >= 0, "seed", "must be >= 0", self.seed)
        check_option(
            self.checkpoint_every >= 0, "checkpoint-every", "must be >= 0", self.checkpoint_every
        )
        check_option(self.sample_every >= 0, "sample-every", "must be >= 0", self.sample_every)
        check_option(math.isfinite(self.lr) and self.lr > 0, "lr", "must be > 0", self.lr)
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            check_option(0.0 <= value < 1.0, name, "must be in [0, 1)", value)
        check_option(
            0.0 <= self.augment_shift <= 0.25,
            "augment-shift",
            "must be in [0, 0.25]",
            self.augment_shift,
        )

    @property
    def bundle_folder(self) -> Path:
        return self.bundle_dir if self.bundle_dir is not None else self.out

    def to_dict(self, *, path_names: bool = False) -> dict[str, Any]:
        """JSON-ready dict of every field (paths as strings, enums as values).

        ``path_names``: only the last part of every path (for provenance records that leave the
        machine: no user names or site folder structure).
        """
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Path):
                value = value.name if path_names else str(value)
            elif isinstance(value, StrEnum):
                value = value.value
            out[item.name] = value
        return out

    def command_line(self) -> str:
        """The ``cxr-explain train`` command that reproduces this run (folder names only)."""
        words = ["cxr-explain", "train", self.KIND.value]
        for item in dataclasses.fields(self):
            if item.name in ("resume", "progress_bar", "bundle_dir"):
                continue
            value = getattr(self, item.name)
            option = "--" + item.name.replace("_", "-")
            if isinstance(value, bool):
                if value != item.default:
                    words.append(option if value else "--no-" + option[2:])
                continue
            if value is None:
                continue
            if isinstance(value, Path):
                value = value.name
            elif isinstance(value, StrEnum):
                value = value.value
            words += [option, str(value)]
        return shlex.join(words)


def resume_differences(saved: Mapping[str, Any], current: TrainConfig) -> list[str]:
    """Names of the options that differ between a checkpoint's config and ``current``.

    An option the checkpoint does not record (added to the trainer after the run started) counts
    as the same when ``current`` leaves it at its default: the run was trained without it.
    """
    now = current.to_dict()
    defaults = {
        item.name: item.default
        for item in dataclasses.fields(current)
        if item.default is not dataclasses.MISSING
    }

    def differs(name: str) -> bool:
        if name not in saved:
            default = defaults.get(name, dataclasses.MISSING)
            plain = default.value if isinstance(default, StrEnum) else default
            return now.get(name) != plain
        return saved.get(name) != now.get(name)

    return sorted(
        name
        for name in set(saved) | set(now)
        if name not in _RESUMABLE_DIFFERENCES and differs(name)
    )


# --------------------------------------------------------------------------- devices and DDP


def resolve_device(choice: DeviceChoice | str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA, then MPS, then CPU. An unavailable explicit choice is an InputError."""
    choice = DeviceChoice(choice)
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if choice is DeviceChoice.CUDA and not cuda:
        raise InputError("--device cuda: no CUDA GPU is available")
    if choice is DeviceChoice.MPS and not mps:
        raise InputError("--device mps: Apple MPS is not available")
    if choice is DeviceChoice.CUDA or (choice is DeviceChoice.AUTO and cuda):
        return torch.device("cuda", local_rank)
    if choice is DeviceChoice.MPS or (choice is DeviceChoice.AUTO and mps):
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True, slots=True)
class Runtime:
    """Where and how this process trains. ``rank`` 0 is the only one that writes files."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on CUDA; nothing elsewhere (bf16 matmuls are ~100x slower on CPU)."""
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def place(self, module: nn.Module) -> nn.Module:
        """Move ``module`` to the device (channels_last on CUDA)."""
        if self.cuda:
            return module.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        return module.to(self.device)

    def tensor(self, array: npt.NDArray[Any] | torch.Tensor) -> torch.Tensor:
        """A batch on the device (channels_last for 4-D float tensors on CUDA)."""
        tensor = torch.as_tensor(array).to(self.device, non_blocking=True)
        if self.cuda and tensor.ndim == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def wrap(self, module: nn.Module) -> nn.Module:
        """DistributedDataParallel around ``module`` in a multi-process job, else ``module``.

        Buffers (BatchNorm statistics) are not broadcast on every forward: a GAN calls its
        networks several times per step and an in-place broadcast would break the autograd graph.
        Rank 0's statistics are the ones saved.
        """
        if not self.distributed:
            return module
        device_ids = [self.device.index] if self.cuda else None
        options: dict[str, Any] = {"broadcast_buffers": False}
        if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
            options = {"forward_sync_buffers": False}  # newer torch; still syncs once at init
        return DistributedDataParallel(module, device_ids=device_ids, **options)


def start_runtime(choice: DeviceChoice | str) -> Runtime:
    """The runtime of this process; starts the process group under torchrun (``WORLD_SIZE > 1``)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Runtime(device=resolve_device(choice))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(choice, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return Runtime(device=device, rank=rank, world_size=world_size, local_rank=local_rank)


def stop_runtime(runtime: Runtime) -> None:
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


# --------------------------------------------------------------------------- tasks


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


def check_finite(losses: Mapping[str, torch.Tensor], step: int) -> dict[str, float]:
    """Loss values as floats; :class:`TrainingError` naming the loss and step if one is NaN/inf."""
    values = {name: float(loss.detach().float()) for name, loss in losses.items()}
    for name, value in values.items():
        if not math.isfinite(value):
            raise TrainingError(
                f"training stopped at step {step}: the {name} loss is {value}; "
                "lower --lr, check the images, or resume from the last checkpoint"
            )
    return values


class TrainingTask(ABC):
    """What one model's training adds to the shared loop. Subclasses own modules and optimizers.

    ``modules()`` are the unwrapped networks (checkpointed under their names), ``optimizers()``
    the optimizers (base learning rates in ``base_lrs``), ``pools()`` the image pools.
    """

    loss_names: tuple[str, ...] = ()

    def __init__(self, config: TrainConfig, runtime: Runtime, train: ImageSet, test: ImageSet):
        self.config = config
        self.runtime = runtime
        self.train_set = train
        self.test_set = test

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

        Must call :func:`check_finite` before any optimizer step.
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


def recalibrate_batchnorm(module: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Re-estimate BatchNorm running statistics as the exact average over ``batches``.

    The exponential moving average kept during training was seen to lag the final weights badly
    for the classifier (eval-mode accuracy 0.50 against 0.83 after this pass on the same weights),
    because brightness, the very feature the disease changes, shifts batch statistics. Only the
    BatchNorm layers run in train mode here (dropout stays off); no gradient, no RNG use.
    """
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    modes = [m.training for m in module.modules()]
    momenta = [layer.momentum for layer in layers]
    module.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
        layer.train()
    with torch.no_grad():
        for batch in batches:
            module(batch)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    for child, mode in zip(module.modules(), modes, strict=True):
        child.training = mode


def adam(
    parameters: Iterator[nn.Parameter], config: TrainConfig, weight_decay: float = 0.0
) -> torch.optim.Adam:
    """Adam with the config's learning rate and betas (``foreach`` off: one code path)."""
    return torch.optim.Adam(
        parameters,
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        weight_decay=weight_decay,
        foreach=False,
    )


# --------------------------------------------------------------------------- data preparation


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
        "cancel": check,
    }
    train = load_images(train_samples, config.size, **options)
    test = load_images(of_split(samples, Split.TEST), config.size, **options)
    if not len(test):
        log.warning("data folder %s has no test images; test metrics are empty", config.data.name)
    return PreparedData(samples=samples, train=train, test=test)


# --------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(
            json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )


def write_grid(path: Path, rows: Sequence[Sequence[npt.NDArray[np.float32]]]) -> None:
    """Write rows of ``[0, 1]`` images as one 8-bit PNG with a 2 px gap."""
    rows = [row for row in rows if row]
    if not rows:
        return
    size = rows[0][0].shape[0]
    gap = 2
    columns = max(len(row) for row in rows)
    canvas = np.full(
        (len(rows) * (size + gap) - gap, columns * (size + gap) - gap), 0.5, dtype=np.float32
    )
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            top, left = r * (size + gap), c * (size + gap)
            canvas[top : top + size, left : left + size] = image
    pixels = np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)
    with atomic_path(path) as temporary:
        Image.fromarray(pixels).save(temporary, format="PNG")


def to_display(tensor: torch.Tensor) -> npt.NDArray[np.float32]:
    """``(1, S, S)`` or ``(S, S)`` model units ``[-1, 1]`` -> display ``[0, 1]`` numpy."""
    array = tensor.detach().float().cpu().numpy().reshape(tensor.shape[-2:])
    return np.clip((array + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


class MetricsLog:
    """``OUT/metrics.csv``: a row per step (epoch, step, lr, losses); TensorBoard if importable."""

    def __init__(self, out: Path, columns: Sequence[str], resume_step: int | None) -> None:
        self.path = out / METRICS_CSV
        self.columns = ["epoch", "step", "lr", *columns, "seconds"]
        if resume_step is not None and self.path.is_file():
            self._truncate(resume_step)
        elif resume_step is None:
            self.path.unlink(missing_ok=True)  # a fresh run starts a fresh log
        new = not self.path.is_file()
        self._handle: TextIO = self.path.open("a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        if new:
            self._writer.writerow(self.columns)
        self._board: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional dependency
        except ImportError:
            pass
        else:
            self._board = SummaryWriter(log_dir=str(out / "tensorboard"))

    def _truncate(self, step: int) -> None:
        """Drop rows after ``step``: a killed run may have logged steps the checkpoint lacks."""
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        kept = [rows[0]] + [r for r in rows[1:] if len(r) > 1 and int(r[1]) <= step] if rows else []
        with atomic_path(self.path) as temporary, temporary.open("w", newline="") as handle:
            csv.writer(handle).writerows(kept)

    def write(
        self, epoch: int, step: int, lr: float, losses: Mapping[str, float], seconds: float
    ) -> None:
        values = [losses.get(name, "") for name in self.columns[3:-1]]
        self._writer.writerow(
            [epoch, step, f"{lr:.6g}", *(f"{v:.6g}" for v in values), f"{seconds:.3f}"]
        )
        self._handle.flush()
        if self._board is not None:
            for name, value in losses.items():
                self._board.add_scalar(f"loss/{name}", value, step)

    def close(self) -> None:
        self._handle.close()
        if self._board is not None:
            self._board.close()


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True, slots=True)
class Position:
    """Where training stands: ``step`` steps done; the next is ``step_in_epoch`` of ``epoch``."""

    epoch: int = 0
    step_in_epoch: int = 0
    step: int = 0


def _rng_tensors() -> dict[str, torch.Tensor]:
    tensors = {"rng/torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{index}"] = state
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        tensors["rng/mps"] = torch.mps.get_rng_state()
    return tensors


def _restore_rng(tensors: Mapping[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng/torch_cpu"])
    cuda = sorted(
        (int(name.rsplit("/", 1)[1]), t)
        for name, t in tensors.items()
        if name.startswith("rng/cuda/")
    )
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t for _, t in cuda][: torch.cuda.device_count()])
    mps = getattr(torch.backends, "mps", None)
    if "rng/mps" in tensors and mps is not None and mps.is_available():
        torch.mps.set_rng_state(tensors["rng/mps"])


def save_checkpoint(task: TrainingTask, out: Path, position: Position) -> Path:
    """Write the checkpoint of ``task`` at ``position`` (see the module docstring); its path."""
    folder = out / CHECKPOINT_FOLDER
    tensors: dict[str, torch.Tensor] = {}
    for name, module in task.modules().items():
        for key, value in module.state_dict().items():
            tensors[f"model/{name}/{key}"] = value
    optimizers: dict[str, Any] = {}
    for name, optimizer in task.optimizers().items():
        state = optimizer.state_dict()
        other: dict[str, dict[str, Any]] = {}
        for param_id, param_state in state["state"].items():
            for key, value in param_state.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim/{name}/{param_id}/{key}"] = value
                else:
                    other.setdefault(str(param_id), {})[key] = value
        optimizers[name] = {"param_groups": state["param_groups"], "state": other}
    for name, pool in task.pools().items():
        tensors[f"pool/{name}"] = pool.state()
    tensors.update(_rng_tensors())
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    weights_name = f"step_{position.step:08d}.safetensors"
    with atomic_path(folder / weights_name) as temporary:
        save_file(tensors, str(temporary), metadata={"format": str(CHECKPOINT_FORMAT)})
        digest = _sha256(temporary)
    index = {
        "format": CHECKPOINT_FORMAT,
        "model_kind": task.config.KIND.value,
        "tensors": weights_name,
        "sha256": digest,
        "epoch": position.epoch,
        "step_in_epoch": position.step_in_epoch,
        "step": position.step,
        "optimizers": optimizers,
        "config": task.config.to_dict(),
        "torch": torch.__version__,
        "world_size": task.runtime.world_size,
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(folder / CHECKPOINT_INDEX, index)
    for old in folder.glob("step_*.safetensors"):
        if old.name != weights_name:
            old.unlink(missing_ok=True)
    return folder / weights_name


def read_checkpoint_index(out: Path) -> dict[str, Any] | None:
    """``OUT/checkpoint/latest.json`` as a dict, or None when there is no checkpoint."""
    path = out / CHECKPOINT_FOLDER / CHECKPOINT_INDEX
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TrainingError(f"cannot read checkpoint {path}: {error}") from None
    if not isinstance(index, dict) or index.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path} is not a cxr-explain checkpoint (format {CHECKPOINT_FORMAT})")
    return index


def load_checkpoint(task: TrainingTask, out: Path, index: Mapping[str, Any]) -> Position:
    """Restore ``task`` from the checkpoint ``index`` describes; the position to continue from."""
    folder = out / CHECKPOINT_FOLDER
    weights = folder / str(index["tensors"])
    if Path(index["tensors"]).name != index["tensors"] or not weights.is_file():
        raise TrainingError(f"checkpoint tensor file {weights.name} is missing")
    if _sha256(weights) != index["sha256"]:
        raise TrainingError(f"checkpoint {weights.name} does not match its sha256; it is corrupt")
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise TrainingError(f"unreadable checkpoint {weights.name}: {error}") from None
    device = task.runtime.device
    try:
        for name, module in task.modules().items():
            prefix = f"model/{name}/"
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            module.load_state_dict(state, strict=True)
        for name, optimizer in task.optimizers().items():
            saved = index["optimizers"][name]
            prefix = f"optim/{name}/"
            per_param: dict[int, dict[str, Any]] = {}
            for key, value in tensors.items():
                if key.startswith(prefix):
                    param_id, state_key = key[len(prefix) :].split("/", 1)
                    per_param.setdefault(int(param_id), {})[state_key] = value
            for param_id, values in saved["state"].items():
                per_param.setdefault(int(param_id), {}).update(values)
            groups = [
                {k: tuple(v) if k == "betas" else v for k, v in group.items()}
                for group in saved["param_groups"]
            ]
            optimizer.load_state_dict({"state": per_param, "param_groups": groups})
        for name, pool in task.pools().items():
            pool.load_state(tensors[f"pool/{name}"], device)
    except (KeyError, RuntimeError, ValueError) as error:
        one_line = " ".join(str(error).split())[:300]
        raise TrainingError(f"checkpoint does not fit this model: {one_line}") from None
    _restore_rng(tensors)
    if task.runtime.rank > 0:  # ranks restored rank 0's RNG; give each its own stream again
        torch.manual_seed(task.config.seed + 7919 * task.runtime.rank + int(index["step"]))
    return Position(
        epoch=int(index["epoch"]),
        step_in_epoch=int(index["step_in_epoch"]),
        step=int(index["step"]),
    )


# --------------------------------------------------------------------------- bundles


def _format_metric(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def model_card(spec: BundleSpec, training: Mapping[str, Any], synthetic: bool) -> str:
    """The bundle's ``README.md``: what it is, the data, the command, seed and metrics."""
    counts = training.get("images", {})
    lines = [
        f"# {spec.model_id}",
        "",
        spec.description,
        "",
        "## Intended use",
        "",
        "Research only; not a medical device."
        + (" Trained on synthetic phantoms (engine.phantoms)." if synthetic else ""),
        "",
        "## Input",
        "",
        f"- {training['size']} x {training['size']} px letterboxed radiograph, model units "
        f"`{NORMALISATION_INPUT}` in [-1, 1]",
        f"- lung field: `{spec.normalisation.get('lung_field', 'none')}` (`mask`: outside the lung "
        "mask set to -1)",
        "",
        "## Training",
        "",
        f"- data folder: `{training['data']}`; images per split: "
        + ", ".join(
            f"{split}: " + ", ".join(f"{n} {label}" for label, n in per.items())
            for split, per in counts.items()
        ),
        f"- command: `{training['command']}`",
        f"- seed {training['seed']}, {training['epochs']} epochs, {training['steps']} steps, "
        f"device {training['device']}, world size {training['world_size']}",
        "",
        "## Test metrics",
        "",
    ]
    lines += [f"- {name}: {_format_metric(value)}" for name, value in spec.metrics.items()]
    return "\n".join(lines) + "\n"


def write_bundles(
    task: TrainingTask,
    data: PreparedData,
    metrics: Mapping[str, Any],
    position: Position,
    seconds: float,
) -> tuple[Path, ...]:
    """Save every :meth:`TrainingTask.bundles` entry with ``save_bundle`` and a model card."""
    from engine.models import BundleConfig, save_bundle

    config = task.config
    synthetic = (config.data / "phantoms.json").is_file() or (
        config.data / "generator.json"
    ).is_file()
    training = {
        "command": config.command_line(),
        "data": config.data.name,
        "images": split_counts(data.samples),
        "size": config.size,
        "seed": config.seed,
        "epochs": config.epochs,
        "steps": position.step,
        "device": task.runtime.device.type,
        "world_size": task.runtime.world_size,
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
        "options": config.to_dict(path_names=True),
        "synthetic": synthetic,
    }
    written = []
    for spec in task.bundles(metrics):
        normalisation = {
            "input": NORMALISATION_INPUT,
            "lung_field": config.lung_field.value,
            **spec.normalisation,
        }
        bundle_config = BundleConfig(
            model_id=spec.model_id,
            architecture=spec.architecture,
            architecture_kwargs=dict(spec.kwargs),
            input_size=(config.size, config.size),
            normalisation=normalisation,
            labels=LABELS,
            value_ranges=dict(spec.value_ranges),
            training=_jsonable(training),
            metrics=_jsonable(dict(spec.metrics)),
        )
        card = model_card(
            dataclasses.replace(spec, normalisation=normalisation), training, synthetic
        )
        try:
            written.append(
                save_bundle(
                    unwrap(spec.module), config.bundle_folder, bundle_config, model_card=card
                )
            )
        except ModelError as error:
            raise TrainingError(f"cannot write bundle {spec.model_id}: {error}") from None
    return tuple(written)


# --------------------------------------------------------------------------- the loop


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
    started = time.monotonic()
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
                        save_checkpoint(task, out, Position(epoch + 1, 0, step))
                        if config.sample_every and (
                            (epoch + 1) % config.sample_every == 0 or epoch + 1 == config.epochs
                        ):
                            _write_samples(task, out, epoch)
                    elif config.checkpoint_every and step % config.checkpoint_every == 0:
                        save_checkpoint(task, out, Position(epoch, in_epoch + 1, step))
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


def seed_everything(seed: int) -> None:
    """Seed the torch generators (CPU and every CUDA device)."""
    torch.manual_seed(seed)


def run_task(
    config: TrainConfig,
    build: Callable[[TrainConfig, Runtime, PreparedData], TrainingTask],
    *,
    lung_field: LungField | None = None,
    with_sides: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> TrainResult:
    """Start the runtime, load the data, build the task (seeded) and :func:`fit` it."""
    runtime = start_runtime(config.device)
    try:
        data = prepare_data(
            config, runtime, lung_field=lung_field, with_sides=with_sides, cancel=cancel
        )
        seed_everything(config.seed)
        task = build(config, runtime, data)
        if runtime.rank > 0:
            torch.manual_seed(config.seed + 7919 * runtime.rank)
        return fit(task, data, progress=progress, cancel=cancel)
    finally:
        stop_runtime(runtime)
