"""Attributions of the classifier for comparison with the counterfactual: Grad-CAM and the
vanilla input gradient. Both are mapped back to the display grid and scaled to ``[0, 1]``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import ModelError
from engine.geometry import Letterbox, from_model
from engine.inference.run import model_size, to_tensor
from engine.models import LoadedModel
from engine.networks import ClassifierNet
from engine.types import FloatImage


@dataclass(frozen=True, slots=True, eq=False)
class Attributions:
    """``gradcam`` and ``gradient``: ``(H, W)`` float32 in ``[0, 1]`` (1 = most relevant)."""

    gradcam: FloatImage
    gradient: FloatImage


def attributions(classifier: LoadedModel, lung_field: FloatImage) -> Attributions:
    """Grad-CAM on the last convolutional stage and |d logit / d input| for one image."""
    module = classifier.module
    if not isinstance(module, ClassifierNet):
        raise ModelError(f"model {classifier.config.model_id!r} is not a classifier")
    box = Letterbox.fit(lung_field.shape, model_size(classifier))
    model_input = to_tensor([lung_field], box).requires_grad_(True)
    with torch.enable_grad():
        feature_map, features = module.forward_features(model_input)
        logit = module.logit_from_features(features)
        map_gradient, input_gradient = torch.autograd.grad(logit.sum(), [feature_map, model_input])
    weights = map_gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * feature_map.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=model_input.shape[-2:], mode="bilinear", align_corners=False)
    gradient = input_gradient.abs()
    return Attributions(
        gradcam=_normalised(from_model(cam[0, 0].numpy(), box)),
        gradient=_normalised(from_model(gradient[0, 0].numpy(), box)),
    )


def _normalised(values: FloatImage) -> FloatImage:
    values = np.maximum(values, 0.0)
    top = float(values.max())
    return (values / top).astype(np.float32) if top > 0 else values.astype(np.float32)
