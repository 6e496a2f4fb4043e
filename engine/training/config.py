"""What every training run is configured by: the shared options, the model kinds, the errors.

:class:`TrainConfig` holds the options every trainer has (each model's config subclasses it);
:func:`resume_differences` decides whether a checkpoint's run may be continued with the current
options.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from engine.errors import EngineError, InputError
from engine.training.data import LungField


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
    DEVICES = "devices"
    CLASSIFIER = "classifier"
    CYCLEGAN = "cyclegan"
    FIGAN = "figan"


def check_option(condition: bool, option: str, message: str, value: object) -> None:
    if not condition:
        raise InputError(f"--{option} {message}, got {value!r}")


def check_whole(config: object, minimum: int, *names: str) -> None:
    """Refuse any of the fields ``names`` that is not a whole number >= ``minimum``."""
    for name in names:
        value = getattr(config, name)
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        option = name.replace("_", "-")
        check_option(
            whole and value >= minimum, option, f"must be a whole number >= {minimum}", value
        )


def check_at_least(config: object, minimum: float, *names: str) -> None:
    """Refuse any of the number fields ``names`` below ``minimum``."""
    for name in names:
        value = getattr(config, name)
        option = name.replace("_", "-")
        check_option(value >= minimum, option, f"must be >= {minimum:g}", value)


def coerce_choice(config: object, name: str, choices: type[StrEnum]) -> None:
    """Set the frozen field ``name`` to its member of ``choices``, or refuse the option's value."""
    value = getattr(config, name)
    try:
        object.__setattr__(config, name, choices(value))
    except ValueError:
        values = [member.value for member in choices]
        allowed = " or ".join([", ".join(values[:-1]), values[-1]] if len(values) > 1 else values)
        raise InputError(f"--{name.replace('_', '-')} must be {allowed}, got {value!r}") from None


def coerce_paths(config: object, *names: str) -> None:
    """Set each frozen path field in ``names`` to a :class:`Path` (an optional one's None stays)."""
    for name in names:
        value = getattr(config, name)
        object.__setattr__(config, name, None if value is None else Path(value))


def coerce_path_tuple(config: object, name: str) -> None:
    """Set the frozen field ``name`` (any iterable of paths) to a tuple of :class:`Path`."""
    value = getattr(config, name)
    if isinstance(value, (str, Path)):  # one path, not its characters
        value = (value,)
    object.__setattr__(config, name, tuple(Path(v) for v in value))


#: Fields that may differ between a run and its resumption (they do not change the result).
#: Options a reproducing command leaves out: how the run went, not what it trains.
_NOT_RECORDED = frozenset({"resume", "progress_bar", "bundle_dir"})
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
    #: Fields this model's ``cxr-explain train`` has no option for (their value is the model's).
    FIXED_FIELDS: ClassVar[frozenset[str]] = frozenset()

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
        coerce_paths(self, "data", "out", "bundle_dir", "segmenter")
        coerce_choice(self, "device", DeviceChoice)
        coerce_choice(self, "lung_field", LungField)
        check_whole(self, 1, "size", "epochs", "batch_size")
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
            elif isinstance(value, tuple) and all(isinstance(v, Path) for v in value):
                value = [v.name if path_names else str(v) for v in value]
            elif isinstance(value, StrEnum):
                value = value.value
            out[item.name] = value
        return out

    def command_line(self) -> str:
        """The ``cxr-explain train`` command that reproduces this run (folder names only)."""
        words = ["cxr-explain", "train", self.KIND.value]
        for item in dataclasses.fields(self):
            if item.name in _NOT_RECORDED or item.name in self.FIXED_FIELDS:
                continue
            value = getattr(self, item.name)
            option = "--" + item.name.replace("_", "-")
            if isinstance(value, bool):
                if value != item.default:
                    words.append(option if value else "--no-" + option[2:])
                continue
            if value is None:
                continue
            if isinstance(value, tuple):  # a list option (paths): one word per item, or none
                if value:
                    words += [option, *(v.name if isinstance(v, Path) else str(v) for v in value)]
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
            if isinstance(plain, tuple):  # to_dict records a list option as a list
                plain = list(plain)
            return now.get(name) != plain
        return saved.get(name) != now.get(name)

    return sorted(
        name
        for name in set(saved) | set(now)
        if name not in _RESUMABLE_DIFFERENCES and differs(name)
    )
