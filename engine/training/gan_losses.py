"""The CycleGAN's loss terms that are plain functions of tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def total_variation(change: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of ``(B, C, H, W)``, both axes."""
    rows = (change[..., 1:, :] - change[..., :-1, :]).abs().mean()
    columns = (change[..., :, 1:] - change[..., :, :-1]).abs().mean()
    return rows + columns


def lsgan(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss of patch scores against the target 1 (real) or 0 (fake)."""
    prediction = prediction.float()
    target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
    return F.mse_loss(prediction, target)
