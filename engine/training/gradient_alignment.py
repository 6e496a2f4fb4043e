"""A training term that points the classifier's gradient at the disease, where pairs show it.

Guided generators remove whatever moves their guide most cheaply, and the clean classifier's own
gradient correlates with the planted change at 0.02 (docs/validation/generators.md): it is moved
by textures that are no disease. Adversarial training aligns the gradient but, within the
epochs a CPU affords, costs the mildest findings. Where each diseased training image has a
healthy twin of the same anatomy (the recipe's phantoms), the direction the disease takes is
known per image: the diseased input minus its twin. This term asks the gradient of the disease
logit at each diseased input to point along that direction (1 - cosine, over the lung field both
images share), while the usual loss keeps the verdicts: "right for the right reasons" (Ross et
al., IJCAI 2017) with the planted change in place of an annotation mask, and the perceptually
aligned gradients of robust classifiers (Ganz et al., ICML 2023) taught directly.

It needs the pairs, so it is for synthetic or otherwise paired training data; a classifier
trained with it is judged by what it was not trained on: held-out pairs, other seeds and a
generator validated by an independent oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import torch

from engine.training.adversarial import lung_field
from engine.training.data import Sample

#: The label index the classifier's logit favours (:data:`engine.training.data.LABELS`).
DISEASED = 1


def twin_indices(samples: Sequence[Sample], label: int) -> npt.NDArray[np.int64]:
    """For each sample of ``label``, the index of the sample of the other label with the same
    id (its twin), or -1; -1 for every sample of the other label."""
    by_id = {(sample.id, sample.label): index for index, sample in enumerate(samples)}
    twins = np.full(len(samples), -1, dtype=np.int64)
    for index, sample in enumerate(samples):
        if sample.label == label:
            twins[index] = by_id.get((sample.id, 1 - label), -1)
    return twins


def alignment_loss(
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    diseased: torch.Tensor,
    healthy: torch.Tensor,
) -> torch.Tensor:
    """Mean over the pairs of 1 - cos(gradient of the logit at ``diseased``, ``diseased`` -
    ``healthy``), both over the lung field the two inputs share; differentiable in the weights
    (the input gradient is built with a graph), so it can be added to a loss."""
    field = lung_field(diseased) * lung_field(healthy)
    inputs = diseased.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(logits_of(inputs).float().sum(), inputs, create_graph=True)
    planted = ((diseased - healthy).detach() * field).flatten(1)
    along = (gradient * field).flatten(1)
    cosine = (along * planted).sum(1) / (along.norm(dim=1) * planted.norm(dim=1)).clamp(min=1e-12)
    return (1.0 - cosine).mean()
