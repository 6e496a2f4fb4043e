"""Adversarial training inputs for the classifier: the worst small change of the lung field.

A classifier trained on its clean inputs can be moved by changes that are no disease at all: the
generators it guided learned horizontal stripe textures and a band along the lung field's edge
(docs/validation/generators.md). Training on the inputs that a few projected gradient steps
(PGD, in an L2 or an L-infinity ball) make hardest (Madry et al., ICLR 2018) gives a classifier
that small changes cannot move, and whose gradients look like the class difference (Santurkar
et al., NeurIPS 2019): a candidate guide for generators that should change what the disease
changes.

The change is confined to the lung field (the pixels that are not the model input's background),
because :func:`engine.inference.model_input.model_input` fills everything else with the
background: a change there never reaches a model. Its size is per lung-field pixel in model
units (``[-1, 1]``: an RMS for the L2 budget, a largest change for the L-infinity one), so one
radius means the same at every input size and lung area. The field is read off the input
itself: a lung pixel at exactly the background value (black after the augmentation's clamping)
counts as background and is left alone; phantom lungs stay far above it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from engine.inference.model_input import BACKGROUND

#: Step length per step as a multiple of radius / steps (Madry et al.'s choice): the walk can
#: reach the ball's surface from any point inside it.
_STEP_FACTOR = 2.5


def lung_field(images: torch.Tensor) -> torch.Tensor:
    """1.0 where ``images`` (model inputs) hold the lung field, 0.0 on the background fill."""
    return (images > BACKGROUND).to(images.dtype)


#: The adversarial budgets: ``l2``, an RMS per lung-field pixel; ``linf``, a largest change of
#: any lung-field pixel.
ADVERSARIAL_NORMS = ("l2", "linf")


def adversarial(
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    radius: float,
    steps: int,
    norm: str = "l2",
) -> torch.Tensor:
    """``images`` plus the change within each one's lung field that ``steps`` projected gradient
    steps find to raise the BCE of ``labels`` most; values stay in ``[-1, 1]`` and the
    background stays unchanged.

    ``norm`` bounds the change: ``l2``, an RMS of at most ``radius`` per field pixel (normalised
    gradient steps); ``linf``, no field pixel moved by more than ``radius`` (signed gradient
    steps). Why two budgets: an L2 budget may be spent on a few pixels, enough to erase a few
    small nodules outright, so a classifier robust to it must stop trusting the mildest findings;
    a change bounded per pixel below an opacity's contrast can only dim every opacity a little,
    while it still covers the faint dense textures (stripes, noise) a guide must not trust.

    ``logits_of`` maps a ``(B, 1, S, S)`` batch to ``(B,)`` logits; only the change gets
    gradients here (the weights' ``.grad`` is left alone)."""
    if norm not in ADVERSARIAL_NORMS:
        raise ValueError(f"norm must be one of {ADVERSARIAL_NORMS}, got {norm!r}")
    images = images.detach()
    if radius <= 0 or steps < 1:
        return images
    field = lung_field(images)
    move = _l2_move(field, radius, steps) if norm == "l2" else _linf_move(radius, steps)
    change = torch.zeros_like(images, requires_grad=True)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(
            logits_of(images + change).float(), labels, reduction="sum"
        )
        (gradient,) = torch.autograd.grad(loss, change)
        with torch.no_grad():
            move(change, gradient * field)
            change.copy_(((images + change).clamp(-1.0, 1.0) - images) * field)
    return (images + change).detach()


#: One step of the change along a gradient and back into its ball, in place.
_Move = Callable[[torch.Tensor, torch.Tensor], None]


def _l2_move(field: torch.Tensor, radius: float, steps: int) -> _Move:
    """Normalised steps, then back onto each image's L2 ball (its field's own budget)."""
    budget = radius * field.flatten(1).sum(1).sqrt()
    step = (_STEP_FACTOR * budget / steps).view(-1, 1, 1, 1)
    limit = budget.view(-1, 1, 1, 1)

    def move(change: torch.Tensor, gradient: torch.Tensor) -> None:
        change += step * gradient / _norms(gradient).clamp(min=1e-12)
        change *= (limit / _norms(change).clamp(min=1e-12)).clamp(max=1.0)

    return move


def _linf_move(radius: float, steps: int) -> _Move:
    """Signed steps, then back into the box of half-width ``radius``."""

    def move(change: torch.Tensor, gradient: torch.Tensor) -> None:
        change += (_STEP_FACTOR * radius / steps) * gradient.sign()
        change.clamp_(-radius, radius)

    return move


def _norms(batch: torch.Tensor) -> torch.Tensor:
    """The L2 norm of each item of ``batch``, shaped to broadcast over it."""
    return batch.flatten(1).norm(dim=1).view(-1, *([1] * (batch.dim() - 1)))
