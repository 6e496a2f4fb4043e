"""Device segmenter: U-Net on the whole image -> foreign objects (pacemaker, wires, ECG leads).

Its mask is the explanation's *keep mask* (issue 19): the counterfactual must not change a
device, since a device is not disease. Input: the whole letterboxed radiograph in model units, as
for the lung segmenter. Target: ``masks/<id>_devices.png`` (an empty mask: no devices), a model
pixel counting as device when devices cover :data:`engine.training.data.DEVICE_SHARE` of it.
Devices cover about 1 % of an image, so the BCE weighs device pixels up (``positive_weight``)
beside the Dice term. Test metrics: the share of device pixels found and the share of the
flagged pixels that are devices, at sigmoid 0.5.

Why learned, not morphological: a white top-hat or a brightness threshold found a fifth of the
device pixels and flagged a fifth of the lesion pixels, because contrast-3 opacities are as bright
and small as metal (docs/validation/generators.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from engine.training.config import ModelKind, TrainConfig, check_option
from engine.training.data import DeviceMasks, ImageSet
from engine.training.runtime import Runtime
from engine.training.segmenter import SegmenterConfig, SegmenterTask
from engine.training.task import PreparedData

MODEL_ID = "device_segmenter"
#: The test metrics of :func:`device_scores`.
DEVICE_SCORES = ("test_device_recall", "test_device_precision", "test_device_dice")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSegmenterConfig(SegmenterConfig):
    """The lung segmenter's options, one output channel and ``positive_weight`` for the BCE."""

    KIND: ClassVar[ModelKind] = ModelKind.DEVICES

    size: int = 384
    epochs: int = 12
    lr: float = 2e-3
    width: int = 8
    positive_weight: float = 10.0

    def __post_init__(self) -> None:
        SegmenterConfig.__post_init__(self)
        check_option(
            self.positive_weight > 0, "positive-weight", "must be > 0", self.positive_weight
        )

    @property
    def architecture_kwargs(self) -> dict[str, Any]:
        return {"in_channels": 1, "out_channels": 1, "base_width": self.width, "depth": self.depth}


def device_scores(
    predicted: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_]
) -> dict[str, float | None]:
    """Pooled over all images: the share of device pixels found (recall), of flagged pixels that
    are devices (precision), and the Dice of the two; None where a share has no pixels."""
    hits = float(np.logical_and(predicted, target).sum())
    truth, flagged = float(target.sum()), float(predicted.sum())
    recall = hits / truth if truth else None
    precision = hits / flagged if flagged else None
    dice = 2 * hits / (truth + flagged) if truth + flagged else None
    return dict(zip(DEVICE_SCORES, (recall, precision, dice), strict=True))


class DeviceSegmenterTask(SegmenterTask):
    config_type = DeviceSegmenterConfig
    data_with_sides = False
    model_id = MODEL_ID
    description = (
        "U-Net foreign-object segmenter (pacemaker, wires, ECG leads). Input: the whole "
        "letterboxed radiograph. Output: 1 logit channel; sigmoid > 0.5 = device. The "
        "explanation leaves these pixels unchanged (the keep mask)."
    )

    @classmethod
    def data_devices(cls, config: TrainConfig) -> DeviceMasks:
        return DeviceMasks.REQUIRED

    def __init__(self, config: DeviceSegmenterConfig, runtime: Runtime, data: PreparedData) -> None:
        self.device_config = config
        super().__init__(config, runtime, data)

    def bce(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = torch.tensor(self.device_config.positive_weight, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)

    def targets(self, source: ImageSet) -> npt.NDArray[np.float32] | None:
        return source.devices

    def evaluate(self) -> dict[str, Any]:
        test = self.test_set
        if not len(test) or test.devices is None:
            return dict.fromkeys(DEVICE_SCORES)
        scores = device_scores(self._predict(test.whole), test.devices > 0.5)
        return {**scores, "test_images": len(test)}
