"""The four models an explanation needs, loaded from one folder of bundles."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelError
from engine.inference.ood import FeatureDensity, load_feature_density
from engine.models import LoadedModel, load_bundle
from engine.networks import Architecture

SEGMENTER_ID = "segmenter"
CLASSIFIER_ID = "classifier"
TO_DISEASE_ID = "generator_to_disease"
TO_HEALTHY_ID = "generator_to_healthy"
#: Either CycleGAN generator: the paper's, or the constrained (additive, masked) one.
GENERATOR_ARCHITECTURES = (Architecture.GENERATOR, Architecture.CONSTRAINED_GENERATOR)
#: The independent classifier that judges counterfactuals (never used to train a generator).
ORACLE_ID = "oracle"
#: The foreign-object segmenter whose mask the explanation leaves unchanged (the keep mask).
DEVICE_SEGMENTER_ID = "device_segmenter"


@dataclass(frozen=True, slots=True)
class ModelSet:
    """Segmenter (optional: without it the whole image is the lung field), classifier, and the
    two CycleGAN generators; the classifier's training-feature density when it has one (the
    out-of-distribution score); the oracle classifier and the device segmenter when the folder
    has them."""

    segmenter: LoadedModel | None
    classifier: LoadedModel
    to_disease: LoadedModel
    to_healthy: LoadedModel
    directory: Path
    feature_density: FeatureDensity | None = None
    oracle: LoadedModel | None = None
    devices: LoadedModel | None = None

    def version_label(self) -> str:
        """Display-safe model identification: folder name and weight checksums (short), and a
        classifier's operating point when it has one (the same weights decide differently)."""
        parts = [self.directory.name]
        models = (
            self.segmenter,
            self.classifier,
            self.to_disease,
            self.to_healthy,
            self.oracle,
            self.devices,
        )
        for loaded in models:
            if loaded is not None:
                label = f"{loaded.config.model_id}@{loaded.config.sha256[:8]}"
                offset = loaded.config.architecture_kwargs.get("decision_offset")
                if offset:
                    label += f"(t={float(offset):+.2f})"
                parts.append(label)
        return " ".join(parts)


def load_model_set(directory: str | os.PathLike[str], device: str = "cpu") -> ModelSet:
    """Load ``directory/{segmenter,classifier,generator_to_disease,generator_to_healthy}`` and
    ``directory/{oracle,device_segmenter}`` when present (segmenter, oracle and device segmenter
    are optional)."""
    root = Path(directory)
    if not root.is_dir():
        raise ModelError(f"model folder {root.name!r} does not exist")
    segmenter_dir = root / SEGMENTER_ID
    segmenter = (
        load_bundle(segmenter_dir, Architecture.UNET, device) if segmenter_dir.exists() else None
    )
    oracle_dir = root / ORACLE_ID
    oracle = (
        load_bundle(oracle_dir, Architecture.CLASSIFIER, device) if oracle_dir.exists() else None
    )
    devices_dir = root / DEVICE_SEGMENTER_ID
    devices = load_bundle(devices_dir, Architecture.UNET, device) if devices_dir.exists() else None
    return ModelSet(
        segmenter=segmenter,
        classifier=load_bundle(root / CLASSIFIER_ID, Architecture.CLASSIFIER, device),
        to_disease=load_bundle(root / TO_DISEASE_ID, GENERATOR_ARCHITECTURES, device),
        to_healthy=load_bundle(root / TO_HEALTHY_ID, GENERATOR_ARCHITECTURES, device),
        directory=root,
        feature_density=load_feature_density(root / CLASSIFIER_ID),
        oracle=oracle,
        devices=devices,
    )
