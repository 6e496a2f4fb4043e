"""Helpers for tests of code built on the engine (like ``numpy.testing``): tiny model sets."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.inference.model_set import CLASSIFIER_ID, SEGMENTER_ID, TO_DISEASE_ID, TO_HEALTHY_ID
from engine.models import BundleConfig, save_bundle
from engine.networks import Architecture, build_network

TINY_MODELS = {
    SEGMENTER_ID: (Architecture.UNET, {"out_channels": 2, "base_width": 4, "depth": 2}),
    CLASSIFIER_ID: (Architecture.CLASSIFIER, {"base_width": 4, "n_stages": 2, "feature_dim": 8}),
    TO_DISEASE_ID: (Architecture.GENERATOR, {"base_width": 4, "n_residual_blocks": 1}),
    TO_HEALTHY_ID: (Architecture.GENERATOR, {"base_width": 4, "n_residual_blocks": 1}),
}


def write_tiny_models(folder: Path, size: int = 32, seed: int = 0) -> Path:
    """Write randomly initialised, tiny versions of the four bundles an explanation needs."""
    torch.manual_seed(seed)
    for model_id, (architecture, kwargs) in TINY_MODELS.items():
        config = BundleConfig(
            model_id=model_id,
            architecture=architecture,
            architecture_kwargs=kwargs,
            input_size=(size, size),
            normalisation={"input": "display [0,1] * 2 - 1"},
            labels=("healthy", "pneumoconiosis"),
        )
        save_bundle(build_network(architecture, kwargs), folder, config)
    return folder
