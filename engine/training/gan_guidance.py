"""The frozen classifiers that guide a CycleGAN's translations across the decision boundary.

One guide is the classifier being explained; more (``--extra-guides``) make an ensemble whose
term vanishes only once every member is across, since a change that fools one network's
texture reading need not fool another. All guides read one input size, the first one's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InputError
from engine.networks import Architecture
from engine.training.optim import set_requires_grad
from engine.training.shown_change import change_as_shown

log = logging.getLogger(__name__)


class ClassifierGuides:
    """Frozen classifier bundles at one input size; ``modules[0]`` is the explained classifier
    (its logits give the flip-rate metric)."""

    def __init__(
        self, bundles: Sequence[Path], lung_field: str, device: torch.device | str
    ) -> None:
        from engine.models import load_bundle

        if not bundles:
            raise ValueError("at least one classifier bundle")
        loaded = [
            load_bundle(path, expected_architecture=Architecture.CLASSIFIER, device=device)
            for path in bundles
        ]
        for model in loaded:
            field = model.config.normalisation.get("lung_field")
            if field not in (None, lung_field):
                log.warning(
                    "classifier %s was trained with lung_field %s, this run uses %s",
                    model.config.model_id,
                    field,
                    lung_field,
                )
        sizes = {max(model.config.input_size) for model in loaded}
        if len(sizes) > 1:
            raise InputError(
                f"the guides read different input sizes {sorted(sizes)}: every extra guide must "
                "read the classifier's size"
            )
        self.size = sizes.pop()
        self.modules: tuple[nn.Module, ...] = tuple(model.module.eval() for model in loaded)
        set_requires_grad(list(self.modules), False)

    def eval(self) -> None:
        """Keep every guide in inference mode (frozen batch norm and dropout)."""
        for module in self.modules:
            module.eval()

    def composite(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        lungs: torch.Tensor | None,
        large: tuple[torch.Tensor, torch.Tensor],
        source_shapes: Sequence[tuple[int, int]] | None = None,
    ) -> torch.Tensor:
        """What the user sees, at the guides' size: the change ``fake - real`` inside the lungs,
        resampled and added to the image loaded at that size (``large``: image, lungs). With
        ``source_shapes`` (each file's pixel grid) the change takes the pipeline's way there,
        through the file's grid (:func:`~engine.training.shown_change.change_as_shown`);
        without, it is resampled straight to the guides' size. The change is masked with the
        generator-size lungs before it is resampled; the pipeline masks it on the file's grid
        (lungs less the keep mask), which differs along the lung border and on devices only."""
        change = fake.float() - real
        if lungs is not None:
            change = change * lungs
        if source_shapes is not None:
            change = change_as_shown(change, source_shapes, self.size)
        else:
            change = F.interpolate(
                change, size=(self.size, self.size), mode="bilinear", align_corners=False
            )
        image, lung = large
        return torch.clamp(image + change * lung, -1.0, 1.0)

    def resized(self, images: torch.Tensor) -> torch.Tensor:
        """Generator outputs at the guides' input size (as the pipeline resamples its inputs)."""
        if images.shape[-1] == self.size:
            return images.float()
        return F.interpolate(
            images.float(),
            size=(self.size, self.size),
            mode="bilinear",
            align_corners=False,
            antialias=images.shape[-1] > self.size,
        )

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """The explained classifier's logits of images already at the guides' size."""
        return self.modules[0](images).float()

    def loss(
        self, images: torch.Tensor, target_disease: bool, margin: float | None
    ) -> torch.Tensor:
        """Mean over the guides of :func:`guidance_term` on ``images`` (at the guides' size)."""
        terms = [
            guidance_term(module(images).float(), target_disease, margin) for module in self.modules
        ]
        return torch.stack(terms).mean()


def guidance_term(logits: torch.Tensor, target_disease: bool, margin: float | None) -> torch.Tensor:
    """BCE toward the target class, or with a margin the hinge ``relu(m - s * logit)``."""
    if margin is None:
        target = torch.ones_like(logits) if target_disease else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)
    sign = 1.0 if target_disease else -1.0
    return F.relu(margin - sign * logits).mean()
