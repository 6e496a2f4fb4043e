"""The classifier's high-level features over a set of images (FIGAN step 1), and the
differentiable image -> component-score map the training loss and the inversion use.

The features are the classifier's fully connected feature layer (post-ReLU, pre-dropout;
:meth:`engine.networks.ClassifierNet.forward_features`), the layer the FIGAN method reads. Images
are model units ``[-1, 1]``; when their side differs from the classifier's training size they are
resized to it first (bilinear, antialiased when shrinking), the same way for real images and for
generated ones, so that the PLS scores of both are measured identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional as F

from engine.errors import InputError, ModelError
from engine.figan.pls import FeaturePLS
from engine.networks import ClassifierNet


@dataclass(frozen=True, slots=True, eq=False)
class FeatureSet:
    """``features``: ``(N, F)`` float64 feature-layer activations; ``logits``: ``(N,)`` float64."""

    features: npt.NDArray[np.float64]
    logits: npt.NDArray[np.float64]

    @property
    def probabilities(self) -> npt.NDArray[np.float64]:
        return 1.0 / (1.0 + np.exp(-self.logits))


def as_classifier(module: nn.Module) -> ClassifierNet:
    """``module`` as a :class:`ClassifierNet`, or :class:`ModelError` (FIGAN reads its features)."""
    if not isinstance(module, ClassifierNet):
        raise ModelError(
            f"FIGAN needs the classifier network (ClassifierNet), got {type(module).__name__}"
        )
    return module


def classifier_input(images: torch.Tensor, input_size: int) -> torch.Tensor:
    """``(B, 1, S, S)`` model units -> ``(B, 1, input_size, input_size)`` (differentiable)."""
    if images.ndim != 4:
        raise InputError(f"expected images of shape (B, 1, S, S), got {tuple(images.shape)}")
    if images.shape[-1] == input_size and images.shape[-2] == input_size:
        return images
    shrinking = images.shape[-1] > input_size
    return F.interpolate(
        images,
        size=(input_size, input_size),
        mode="bilinear",
        align_corners=False,
        antialias=shrinking,
    )


@torch.no_grad()
def extract_features(
    classifier: nn.Module,
    images: npt.NDArray[np.float32] | torch.Tensor,
    *,
    input_size: int,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> FeatureSet:
    """Feature-layer activations and logits of ``images`` ``(N, 1, S, S)`` in ``[-1, 1]``.

    The classifier runs in eval mode (its mode is restored afterwards).
    """
    network = as_classifier(classifier)
    tensor = torch.as_tensor(images)
    if tensor.ndim != 4 or tensor.shape[1] != 1:
        raise InputError(f"expected images of shape (N, 1, S, S), got {tuple(tensor.shape)}")
    was_training = network.training
    network.eval()
    features, logits = [], []
    try:
        for start in range(0, tensor.shape[0], batch_size):
            batch = tensor[start : start + batch_size].to(device=device, dtype=torch.float32)
            _, feature = network.forward_features(classifier_input(batch, input_size))
            features.append(feature.double().cpu())
            logits.append(network.logit_from_features(feature).double().cpu())
    finally:
        network.train(was_training)
    if not features:
        width = network.logit.in_features
        return FeatureSet(np.zeros((0, width)), np.zeros(0))
    return FeatureSet(torch.cat(features).numpy(), torch.cat(logits).numpy())


class ScoreProjector(nn.Module):
    """Frozen classifier + PLS: ``(B, 1, S, S)`` images -> (scores ``(B, k)`` SD units, logits).

    Differentiable with respect to the images (the classifier's parameters are frozen and it
    stays in eval mode), so a loss on the scores trains a generator or inverts an image.
    """

    matrix: torch.Tensor
    offset: torch.Tensor

    def __init__(self, classifier: nn.Module, pls: FeaturePLS, input_size: int) -> None:
        super().__init__()
        self.classifier = as_classifier(classifier)
        if pls.feature_dim != self.classifier.logit.in_features:
            raise ModelError(
                f"the PLS projection reads {pls.feature_dim} features but the classifier has "
                f"{self.classifier.logit.in_features}; they do not belong together"
            )
        self.input_size = int(input_size)
        matrix, offset = pls.linear_map()
        self.register_buffer("matrix", torch.from_numpy(matrix).float(), persistent=False)
        self.register_buffer("offset", torch.from_numpy(offset).float(), persistent=False)
        for parameter in self.classifier.parameters():
            parameter.requires_grad_(False)
        self.classifier.eval()

    def train(self, mode: bool = True) -> ScoreProjector:
        super().train(mode)
        self.classifier.eval()  # always frozen: BatchNorm statistics and dropout stay fixed
        return self

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, features = self.classifier.forward_features(classifier_input(images, self.input_size))
        features = features.float()
        scores = features @ self.matrix + self.offset
        return scores, self.classifier.logit_from_features(features)
