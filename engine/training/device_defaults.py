"""The recipe's device-segmenter stage: its own phantom set, where most anatomies carry devices.

The explanation leaves foreign objects unchanged (the keep mask, :mod:`engine.explain.edit_field`),
found by a U-Net (:mod:`engine.training.device_segmenter`). The recipe's main phantom set has no
devices (a classifier trained with them was no better, docs/training.md), so this stage writes a
set of its own: devices in most anatomies and breast shadows in some, findings of the recipe's
contrast 1-3 (bright small opacities are what a device detector must not take for metal), at the
recipe's file sizes and bit depths. The stage is independent of every other one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine.training.device_segmenter import DeviceSegmenterConfig

if TYPE_CHECKING:
    from engine.training.defaults_plan import DefaultsPlan

Plan = TypeVar("Plan", bound="DefaultsPlan")


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """Sizes of the device-segmenter stage."""

    phantoms: int = 200
    # The set's anatomies: recipe seed + this, so none is an anatomy of another set.
    seed_offset: int = 13
    foreign_object_probability: float = 0.8
    breast_probability: float = 0.3
    # A lead wire is about a pixel wide in a 1024 px file: at 384 px the network still sees it.
    size: int = 384
    epochs: int = 10
    width: int = 8

    @classmethod
    def quick(cls) -> DevicePlan:
        """Tiny: 8 anatomies at 32 px, one epoch (tests)."""
        return cls(phantoms=8, size=32, epochs=1, width=4)


def devices_config(
    devices: DevicePlan, batch_size: int, out: Path, common: dict[str, Any], *, resume: bool
) -> DeviceSegmenterConfig:
    """The stage's run in ``out``; ``common``: the recipe's data (this set), bundle_dir, seed,
    device and progress_bar."""
    return DeviceSegmenterConfig(
        out=out,
        resume=resume,
        epochs=devices.epochs,
        width=devices.width,
        depth=min(4, (devices.size // 8).bit_length() - 1),
        batch_size=batch_size,
        **{**common, "size": devices.size, "seed": common["seed"] + devices.seed_offset},
    )


def devices_data_plan(plan: Plan, devices: DevicePlan) -> Plan:
    """The stage's phantom set: the recipe's files and findings, most anatomies with devices."""
    return replace(
        plan,
        phantoms=devices.phantoms,
        foreign_object_probability=devices.foreign_object_probability,
        breast_probability=devices.breast_probability,
    )
