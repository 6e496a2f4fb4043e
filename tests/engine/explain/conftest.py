"""Tiny, randomly initialised model bundles: the explanation machinery without trained weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.inference.model_set import (
    CLASSIFIER_ID,
    SEGMENTER_ID,
    TO_DISEASE_ID,
    TO_HEALTHY_ID,
    ModelSet,
    load_model_set,
)
from engine.io import load_radiograph
from engine.models import BundleConfig, save_bundle
from engine.networks import Architecture, build_network
from engine.types import Radiograph

TINY = {
    SEGMENTER_ID: (Architecture.UNET, {"out_channels": 2, "base_width": 4, "depth": 2}),
    CLASSIFIER_ID: (
        Architecture.CLASSIFIER,
        {"base_width": 4, "n_stages": 2, "feature_dim": 8},
    ),
    TO_DISEASE_ID: (Architecture.GENERATOR, {"base_width": 4, "n_residual_blocks": 1}),
    TO_HEALTHY_ID: (Architecture.GENERATOR, {"base_width": 4, "n_residual_blocks": 1}),
}


def write_tiny_models(folder: Path, size: int = 32) -> Path:
    torch.manual_seed(0)
    for model_id, (architecture, kwargs) in TINY.items():
        network = build_network(architecture, kwargs)
        config = BundleConfig(
            model_id=model_id,
            architecture=architecture,
            architecture_kwargs=kwargs,
            input_size=(size, size),
            normalisation={"input": "display [0,1] * 2 - 1"},
            labels=("healthy", "pneumoconiosis"),
        )
        save_bundle(network, folder, config)
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> ModelSet:
    return load_model_set(write_tiny_models(tmp_path_factory.mktemp("models")))


@pytest.fixture
def chest_like(tmp_path) -> Radiograph:
    """A 60 x 44 (portrait, non-square) 8-bit image with two darker 'lungs'."""
    rows, columns = np.mgrid[0:60, 0:44]
    image = np.full((60, 44), 170, np.uint8)
    for centre in (13, 31):
        image[((columns - centre) / 8.0) ** 2 + ((rows - 28) / 18.0) ** 2 < 1] = 60
    path = tmp_path / "chest.png"
    Image.fromarray(image).save(path)
    return load_radiograph(path)
