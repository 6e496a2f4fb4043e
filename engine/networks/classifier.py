"""The CNN being explained: healthy vs pneumoconiosis, one logit.

A compact ResNet: a 3x3 stride-2 stem of ``base_width`` channels, then ``n_stages`` stages, each one
residual basic block (two 3x3 convs, BatchNorm, ReLU; a 1x1 stride-2 projection on the shortcut)
that halves the resolution and doubles the width. Global average pooling, a fully connected
*feature layer* of ``feature_dim`` units with ReLU (the "high-level features" the FIGAN PLS analysis
reads), dropout, and a linear layer to one logit: ``sigmoid(logit)`` is the probability of
pneumoconiosis.

At 512 x 512 with 4 stages the last conv feature map is 16 x 16 (stride 32), the map Grad-CAM uses.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.networks._checks import image_batch, positive_int, probability

#: Class labels in output order: the logit is the evidence for ``LABELS[1]``.
LABELS = ("healthy", "pneumoconiosis")


class BasicBlock(nn.Module):
    """Residual block that down-samples by 2: ``(B, C_in, H, W) -> (B, C_out, H/2, W/2)`` (ceil)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ClassifierNet(nn.Module):
    """Binary chest X-ray classifier: ``(B, in_channels, H, W)`` in ``[-1, 1]`` -> logit ``(B,)``.

    Any ``H, W >= 2**(n_stages + 1)`` works (global pooling); the training size is recorded in the
    model bundle. ReLUs are not in place, so hooks on the last stage see unmodified activations.

    Args:
        in_channels: image channels (1 = grayscale).
        base_width: channels of the stem; stage ``i`` has ``base_width * 2**(i + 1)``.
        n_stages: residual stages, each halving the resolution.
        feature_dim: width of the fully connected feature layer.
        dropout: dropout probability before the logit layer (training only).
        decision_offset: subtracted from every logit, so that logit 0 (P = 0.5) falls on the
            operating point chosen after training (``engine.explain.operating_point``); 0 for a
            freshly trained network. Stored in the bundle's ``config.json``, not in the weights.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        base_width: int = 16,
        n_stages: int = 4,
        feature_dim: int = 64,
        dropout: float = 0.2,
        decision_offset: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        if not isinstance(decision_offset, int | float) or not math.isfinite(decision_offset):
            raise ValueError(f"decision_offset must be a finite number, got {decision_offset!r}")
        self.decision_offset = float(decision_offset)
        positive_int("base_width", base_width)
        self.n_stages = positive_int("n_stages", n_stages)
        positive_int("feature_dim", feature_dim)
        probability("dropout", dropout)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base_width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(base_width),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        channels = base_width
        for _ in range(n_stages):
            stages.append(BasicBlock(channels, 2 * channels))
            channels *= 2
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature = nn.Sequential(nn.Linear(channels, feature_dim), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.logit = nn.Linear(feature_dim, 1)
        self.feature_map_channels = channels

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` -> (last conv stage map ``(B, C, H/2**(n+1), W/2**(n+1))``, features ``(B, F)``).

        ``C = base_width * 2**n_stages``, ``F = feature_dim``; features are post-ReLU, pre-dropout.
        """
        image_batch(
            x, channels=self.in_channels, minimum=2 ** (self.n_stages + 1), network="classifier"
        )
        feature_map = self.stages(self.stem(x))
        features = self.feature(self.pool(feature_map).flatten(1))
        return feature_map, features

    def logit_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Feature vectors ``(B, F)`` -> logits ``(B,)`` (less the decision offset)."""
        logits = self.logit(self.dropout(features)).squeeze(1)
        return logits - self.decision_offset if self.decision_offset else logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` in ``[-1, 1]`` -> pneumoconiosis logit ``(B,)``."""
        _, features = self.forward_features(x)
        return self.logit_from_features(features)
