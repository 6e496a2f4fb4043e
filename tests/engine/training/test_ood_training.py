"""The classifier run stores its training-feature density (the OOD score) with the bundle."""

from __future__ import annotations

import json
from pathlib import Path

from engine.inference.ood import DENSITY_CONFIG, load_feature_density
from engine.training.classifier import ClassifierConfig
from engine.training.dispatch import train


def test_classifier_training_stores_the_density_with_the_bundle(
    shared_dataset: Path, tmp_path: Path
) -> None:
    config = ClassifierConfig(
        data=shared_dataset,
        out=tmp_path / "run",
        size=32,
        epochs=1,
        batch_size=4,
        width=4,
        stages=2,
        progress_bar=False,
    )
    result = train(config)
    density = load_feature_density(result.bundles[0])
    assert density is not None
    assert density.mean.shape == (2 * config.width * 2**config.stages,)  # map mean + SD
    record = json.loads((result.bundles[0] / DENSITY_CONFIG).read_text())
    assert record["training_images"] == density.training_images > 0
    assert 0.0 <= record["test_share_flagged"] <= 1.0
