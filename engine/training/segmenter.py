"""Lung-field segmenter: U-Net on the whole image -> left/right lung masks, BCE + Dice loss.

Input: the whole letterboxed radiograph in model units (no lung field: the segmenter makes it).
Targets: ``masks/<id>_right.png`` (channel 0, the image-left lung) and ``<id>_left.png``
(channel 1). Both classes are used: the lungs must be found in diseased images too. In a paired
phantom set one anatomy appears twice (healthy and diseased), which is what a segmenter should
be robust to. Test metric: mean Dice of the thresholded masks (per image and channel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from engine.networks import Architecture, UNet
from engine.training.config import ModelKind, TrainConfig, check_option, check_whole
from engine.training.data import ImageSet, LungField
from engine.training.run_files import to_display
from engine.training.runtime import Runtime
from engine.training.task import BundleSpec, PreparedData, SupervisedTask

MODEL_ID = "segmenter"


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmenterConfig(TrainConfig):
    """U-Net options: ``width`` channels at the first level, ``depth`` down-samplings."""

    KIND: ClassVar[ModelKind] = ModelKind.SEGMENTER
    # Fixed for a segmenter (it makes the lung field): no command-line options.
    FIXED_FIELDS: ClassVar[frozenset[str]] = frozenset({"lung_field", "segmenter"})

    epochs: int = 40
    lung_field: LungField = LungField.NONE  # the segmenter sees the whole image
    width: int = 16
    depth: int = 4
    dice_weight: float = 1.0

    def __post_init__(self) -> None:
        TrainConfig.__post_init__(self)
        check_whole(self, 1, "width", "depth")
        check_option(
            self.size % 2**self.depth == 0,
            "size",
            f"must be a multiple of 2**depth = {2**self.depth}",
            self.size,
        )
        check_option(self.dice_weight >= 0, "dice-weight", "must be >= 0", self.dice_weight)

    @property
    def architecture_kwargs(self) -> dict[str, Any]:
        return {"in_channels": 1, "out_channels": 2, "base_width": self.width, "depth": self.depth}


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """``1 - mean soft Dice`` over images and channels; ``(B, C, H, W)`` logits and 0/1 targets."""
    probabilities = torch.sigmoid(logits)
    intersection = (probabilities * target).sum(dim=(2, 3))
    total = probabilities.sum(dim=(2, 3)) + target.sum(dim=(2, 3))
    return 1.0 - ((2.0 * intersection + eps) / (total + eps)).mean()


def dice_scores(
    predicted: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Hard Dice per image and channel, ``(B, C)``; 1 where both masks are empty."""
    intersection = np.logical_and(predicted, target).sum(axis=(2, 3))
    total = predicted.sum(axis=(2, 3)) + target.sum(axis=(2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total == 0, 1.0, 2.0 * intersection / np.maximum(total, 1))


class SegmenterTask(SupervisedTask):
    config_type = SegmenterConfig
    network_name = "unet"
    data_lung_field = LungField.NONE  # the segmenter sees the whole image
    data_with_sides = True  # its targets are the left and right lung masks

    loss_names = ("loss", "bce", "dice")
    #: The bundle's folder name and model-card description.
    model_id: ClassVar[str] = MODEL_ID
    description: ClassVar[str] = (
        "U-Net lung-field segmenter. Input: the whole letterboxed radiograph. Output: "
        "2 logit channels, channel 0 = lung on the image left (patient's right), "
        "channel 1 = lung on the image right (patient's left); sigmoid > 0.5 = lung."
    )

    def __init__(self, config: SegmenterConfig, runtime: Runtime, data: PreparedData) -> None:
        self.seg_config = config
        super().__init__(config, runtime, data)

    def build_network(self) -> nn.Module:
        return UNet(**self.seg_config.architecture_kwargs)

    def losses(self, images: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        with self.runtime.autocast():
            logits = self.wrapped(images)
        logits = logits.float()
        bce = self.bce(logits, targets)
        dice = soft_dice_loss(logits, targets)
        return {"loss": bce + self.seg_config.dice_weight * dice, "bce": bce, "dice": dice}

    def bce(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets)

    def targets(self, source: ImageSet) -> npt.NDArray[np.float32] | None:
        """``(N, C, S, S)`` 0/1 targets of ``source``: the image-left and image-right lungs."""
        return source.sides

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        targets = self.targets(self.train_set)
        if targets is None:
            raise RuntimeError(f"{self.model_id} data loaded without its target masks")
        index = np.asarray(indices, dtype=np.int64)
        images, wanted = self.augment(
            torch.from_numpy(self.train_set.whole[index]), torch.from_numpy(targets[index])
        )
        return self.runtime.tensor(images), self.runtime.tensor(wanted)

    def _predict(self, images: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        out = []
        for start in range(0, len(images), 8):
            batch = self.runtime.tensor(images[start : start + 8])
            with self.runtime.autocast():
                logits = self.network(batch)
            out.append(logits.float().cpu().numpy() > 0.0)
        return np.concatenate(out) if out else np.zeros((0, 2, 1, 1), dtype=bool)

    def evaluate(self) -> dict[str, Any]:
        test = self.test_set
        if not len(test) or test.sides is None:
            return {"test_dice": None, "test_dice_image_left": None, "test_dice_image_right": None}
        scores = dice_scores(self._predict(test.whole), test.sides > 0.5)
        return {
            "test_dice": float(scores.mean()),
            "test_dice_image_left": float(scores[:, 0].mean()),
            "test_dice_image_right": float(scores[:, 1].mean()),
            "test_images": len(test),
        }

    def sample_rows(self) -> list[list[npt.NDArray[np.float32]]]:
        source = self.test_set if len(self.test_set) else self.train_set
        count = min(4, len(source))
        targets = self.targets(source)
        if count == 0 or targets is None:
            return []
        predicted = self._predict(source.whole[:count])
        rows = []
        for i in range(count):
            image = to_display(torch.from_numpy(source.whole[i]))
            truth = targets[i].max(axis=0)
            guess = predicted[i].max(axis=0).astype(np.float32)
            rows.append([image, truth, guess, np.clip(0.6 * image + 0.4 * guess, 0, 1)])
        return rows

    def bundles(self, metrics: Mapping[str, Any]) -> list[BundleSpec]:
        return [
            BundleSpec(
                model_id=self.model_id,
                module=self.network,
                architecture=Architecture.UNET,
                kwargs=self.seg_config.architecture_kwargs,
                description=self.description,
                value_ranges={"input": [-1, 1], "output": "logits"},
                metrics=metrics,
                normalisation={"lung_field": LungField.NONE.value},
            )
        ]
