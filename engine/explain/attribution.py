"""Attributions of the classifier for comparison with the counterfactual: Grad-CAM, the vanilla
input gradient and Integrated Gradients. All are mapped back to the image grid and scaled to
``[0, 1]``.

Grad-CAM uses the deepest residual stage whose map is at least :data:`GRADCAM_MIN_MAP` pixels on
each side: the last stage of a 128 px classifier is 4 x 4, a map that cannot localise anything
(comparing a counterfactual with it proves nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import ModelError
from engine.geometry import from_model
from engine.inference.run import batch_tensor, field_inputs
from engine.models import LoadedModel
from engine.networks import ClassifierNet
from engine.types import FloatImage

#: Grad-CAM's map must be at least this many pixels on each side.
GRADCAM_MIN_MAP = 16
#: Integrated Gradients: Riemann steps along the path from the background to the image.
IG_STEPS = 32


@dataclass(frozen=True, slots=True, eq=False)
class Attributions:
    """``gradcam`` and ``gradient``: ``(H, W)`` float32 in ``[0, 1]`` (1 = most relevant).
    ``gradcam_map``: the side of the map Grad-CAM was computed on, in model pixels."""

    gradcam: FloatImage
    gradient: FloatImage
    gradcam_map: int = 0


def gradcam_stage(module: ClassifierNet, size: int) -> int:
    """Index of the deepest stage whose output is at least ``GRADCAM_MIN_MAP`` on a side (the
    first stage when none is)."""
    side = -(-size // 2)  # the stem halves (ceil)
    chosen = 0
    for index in range(len(module.stages)):
        side = -(-side // 2)
        if side >= GRADCAM_MIN_MAP:
            chosen = index
    return chosen


def _classifier(model: LoadedModel) -> ClassifierNet:
    module = model.module
    if not isinstance(module, ClassifierNet):
        raise ModelError(f"model {model.config.model_id!r} is not a classifier")
    return module


def attributions(
    classifier: LoadedModel, intensity: FloatImage, lung: np.ndarray | None
) -> Attributions:
    """Grad-CAM (see module docstring) and |d logit / d input| for one image and its lungs."""
    module = _classifier(classifier)
    (prepared,) = field_inputs(classifier, [intensity], lung)
    model_input = batch_tensor([prepared.field]).requires_grad_(True)
    stage = gradcam_stage(module, model_input.shape[-1])
    with torch.enable_grad():
        activation = module.stem(model_input)
        stage_map = activation
        for index, block in enumerate(module.stages):
            activation = block(activation)
            if index == stage:
                stage_map = activation
        features = module.feature(module.pool(activation).flatten(1))
        logit = module.logit_from_features(features)
        map_gradient, input_gradient = torch.autograd.grad(logit.sum(), [stage_map, model_input])
    weights = map_gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * stage_map.detach()).sum(dim=1, keepdim=True))
    side = int(cam.shape[-1])
    cam = F.interpolate(cam, size=model_input.shape[-2:], mode="bilinear", align_corners=False)
    gradient = input_gradient.abs()
    return Attributions(
        gradcam=_normalised(from_model(cam[0, 0].numpy(), prepared.box)),
        gradient=_normalised(from_model(gradient[0, 0].numpy(), prepared.box)),
        gradcam_map=side,
    )


def integrated_gradients(
    classifier: LoadedModel, intensity: FloatImage, lung: np.ndarray | None
) -> FloatImage:
    """|Integrated Gradients| of the logit (Captum; baseline: the empty lung field, all
    background), ``(H, W)`` in ``[0, 1]``.

    Captum is imported here: it imports matplotlib, which no other path of the app needs.
    """
    from captum.attr import IntegratedGradients

    module = _classifier(classifier)
    (prepared,) = field_inputs(classifier, [intensity], lung)
    model_input = batch_tensor([prepared.field])
    baseline = torch.full_like(model_input, -1.0)
    method = IntegratedGradients(module)
    with torch.enable_grad():
        attribution = method.attribute(model_input, baselines=baseline, n_steps=IG_STEPS)
    values = attribution.detach().abs()[0, 0].numpy()
    return _normalised(from_model(values, prepared.box))


def _normalised(values: FloatImage) -> FloatImage:
    values = np.maximum(values, 0.0)
    top = float(values.max())
    return (values / top).astype(np.float32) if top > 0 else values.astype(np.float32)
