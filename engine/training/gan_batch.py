"""What one CycleGAN step reads (:meth:`engine.training.cyclegan.CycleGANTask.batch`)."""

from __future__ import annotations

from typing import NamedTuple

import torch


class GanBatch(NamedTuple):
    """One unpaired step's inputs: images of each domain, their lung fields and their keep masks
    (device masks, for the constrained generator; None when absent)."""

    real_a: torch.Tensor
    real_b: torch.Tensor
    lungs_a: torch.Tensor | None
    lungs_b: torch.Tensor | None
    keep_a: torch.Tensor | None
    keep_b: torch.Tensor | None
