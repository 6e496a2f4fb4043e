"""The torch steps every training task shares: its optimizer, the loss check before a step,
freezing networks, and re-estimating BatchNorm statistics after training.

NaN/inf: :func:`check_finite` turns any non-finite loss into a one-line :class:`TrainingError`
naming the step, before the optimizer step can spread it into the weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

import torch
from torch import nn

from engine.training.config import TrainConfig, TrainingError


def check_finite(losses: Mapping[str, torch.Tensor], step: int) -> dict[str, float]:
    """Loss values as floats; :class:`TrainingError` naming the loss and step if one is NaN/inf."""
    values = {name: float(loss.detach().float()) for name, loss in losses.items()}
    for name, value in values.items():
        if not math.isfinite(value):
            raise TrainingError(
                f"training stopped at step {step}: the {name} loss is {value}; "
                "lower --lr, check the images, or resume from the last checkpoint"
            )
    return values


def adam(
    parameters: Iterator[nn.Parameter], config: TrainConfig, weight_decay: float = 0.0
) -> torch.optim.Adam:
    """Adam with the config's learning rate and betas (``foreach`` off: one code path)."""
    return torch.optim.Adam(
        parameters,
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        weight_decay=weight_decay,
        foreach=False,
    )


def set_requires_grad(modules: Sequence[nn.Module], flag: bool) -> None:
    """Freeze (False) or unfreeze the parameters of ``modules``: a GAN's discriminators during
    the generator step, a guiding classifier always."""
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(flag)


def recalibrate_batchnorm(module: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Re-estimate BatchNorm running statistics as the exact average over ``batches``.

    The exponential moving average kept during training was seen to lag the final weights badly
    for the classifier (eval-mode accuracy 0.50 against 0.83 after this pass on the same weights),
    because brightness, the very feature the disease changes, shifts batch statistics. Only the
    BatchNorm layers run in train mode here (dropout stays off); no gradient, no RNG use.
    """
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    modes = [m.training for m in module.modules()]
    momenta = [layer.momentum for layer in layers]
    module.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
        layer.train()
    with torch.no_grad():
        for batch in batches:
            module(batch)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    for child, mode in zip(module.modules(), modes, strict=True):
        child.training = mode
