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
from engine.types import FloatImage


@dataclass(frozen=True, slots=True)
class EditField:
    """Where a counterfactual may change the image: the lungs, less the keep mask (if any)."""

    right: np.ndarray
    left: np.ndarray
    keep: np.ndarray | None

    @property
    def lung(self) -> np.ndarray:
        return self.right | self.left

    @property
    def editable(self) -> np.ndarray:
        return self.lung if self.keep is None else self.lung & ~self.keep


def keep_mask_of(
    models: ModelSet, original: FloatImage, given: np.ndarray | None
) -> np.ndarray | None:
    """The pixels no counterfactual may change: ``given``, or the device segmenter's devices
    grown by half a generator pixel, or None.

    The change is made at the generator's resolution and resampled, so a device bleeds into the
    change around it; growing the found devices catches that, and also covers the lesion pixels
    next to them. Half a generator pixel is the measured middle: on held-out phantoms with
    devices, the to-healthy change on device pixels per change on other lung pixels was 0.34
    ungrown, 0.26 at half and 0.25 at a whole generator pixel, while the lesion pixels covered
    rose from 0.4 % to 2.7 % and 3.9 % (docs/validation/generators.md).
    """
    if given is not None:
        if given.shape != original.shape:
            raise InputError(f"keep mask shape {given.shape} is not the image's {original.shape}")
        return np.asarray(given, dtype=bool)
    if models.devices is None:
        return None
    generator = min(model_size(models.to_healthy), model_size(models.to_disease))
    grow = -(-model_size(models.devices) // (2 * generator))  # ceil: half a generator pixel
    return find_devices(models.devices, original, grow)
