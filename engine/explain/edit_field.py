"""Where a counterfactual may change the image: the lung field, less the *keep mask*.

The keep mask holds what is not disease and must not change (issue 19): foreign objects such as
a pacemaker, wires and ECG leads, found by the device segmenter (or given: an annotation, a
phantom's ground truth). Without one, the whole lung field is editable, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InputError
from engine.inference.model_set import ModelSet
from engine.inference.run import find_devices, model_size
from engine.models import LoadedModel
from engine.types import FloatImage


@dataclass(frozen=True, slots=True)
class EditField:
    """Where a counterfactual may change the image: the lungs, less the keep mask (if any)."""

    right: np.ndarray
    left: np.ndarray
    keep: np.ndarray | None

    @property
    def lung(self) -> np.ndarray:
        """Both lungs, ``(H, W)`` bool."""
        return self.right | self.left

    @property
    def editable(self) -> np.ndarray:
        """The pixels a counterfactual may change, ``(H, W)`` bool."""
        return editable(self.lung, self.keep)


def editable(lung: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """The pixels of ``lung`` a translation may change: all of them, less ``keep`` if given."""
    return lung if keep is None else lung & ~keep


def device_growth(models: ModelSet) -> int:
    """How many device-segmenter pixels the found devices grow by for ``models``' generators
    (:func:`growth`); 0 without a device segmenter."""
    if models.devices is None:
        return 0
    return growth(models.devices, _generator_size(models))


def _generator_size(models: ModelSet) -> int:
    return min(model_size(models.to_healthy), model_size(models.to_disease))


def growth(devices: LoadedModel, generator_size: int) -> int:
    """The fewest whole device-segmenter pixels that make at least half a pixel of a generator
    of ``generator_size`` (2 for a 384 px segmenter and 128 px generators: two thirds of a
    generator pixel)."""
    return -(-model_size(devices) // (2 * generator_size))  # ceil


def keep_mask_of(
    models: ModelSet, original: FloatImage, given: np.ndarray | None
) -> np.ndarray | None:
    """The pixels no counterfactual may change: a copy of ``given``, or the device segmenter's
    devices grown by :func:`device_growth`, or None.

    The change is made at the generator's resolution and resampled, so a device bleeds into the
    change around it; growing the found devices catches that, and also covers the lesion pixels
    next to them. The growth is the measured middle of that trade-off (docs/validation/
    generators.md: on the CI guard's anatomies the device/lung change ratio is 0.24 ungrown,
    0.16 grown by 2 and 0.11 by 3, while the lesion pixels kept rise from 0.7 % to 4.4 % and
    6.2 %).
    """
    if given is not None:
        if given.shape != original.shape:
            raise InputError(f"keep mask shape {given.shape} is not the image's {original.shape}")
        return np.array(given, dtype=bool)  # a copy: the result freezes it
    return kept_devices(models.devices, original, _generator_size(models))


def kept_devices(
    devices: LoadedModel | None, original: FloatImage, generator_size: int
) -> np.ndarray | None:
    """What ``devices`` (a device segmenter, or None) finds in ``original``, grown for a
    generator of ``generator_size`` (:func:`growth`): the keep mask of any translation made at
    that size, the CycleGAN's or the FIGAN's."""
    if devices is None:
        return None
    return find_devices(devices, original, growth(devices, generator_size))
