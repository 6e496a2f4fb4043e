"""The end of a run: every final model saved as a bundle with its model card.

:func:`write_bundles` saves each :meth:`~engine.training.task.TrainingTask.bundles` entry with
:func:`engine.models.save_bundle`, with the provenance of the run (command, data, seed, steps,
device) and a ``README.md`` model card (:func:`model_card`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelError
from engine.training.checkpoint import Position
from engine.training.config import TrainingError
from engine.training.data import LABELS, split_counts
from engine.training.run_files import jsonable
from engine.training.runtime import unwrap
from engine.training.task import BundleSpec, PreparedData, TrainingTask

NORMALISATION_INPUT = (
    "engine.inference.model_input: model-window intensity [0,1] (0.5-99.5 percentiles of the "
    "modality values, polarity applied) * 2 - 1, letterboxed; lung field from the full-resolution "
    "mask (area share >= 0.5), background -1"
)


def _format_metric(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def model_card(spec: BundleSpec, training: Mapping[str, Any], synthetic: bool) -> str:
    """The bundle's ``README.md``: what it is, the data, the command, seed and metrics."""
    counts = training.get("images", {})
    lines = [
        f"# {spec.model_id}",
        "",
        spec.description,
        "",
        "## Intended use",
        "",
        "Research only; not a medical device."
        + (" Trained on synthetic phantoms (engine.phantoms)." if synthetic else ""),
        "",
        "## Input",
        "",
        f"- {training['size']} x {training['size']} px letterboxed radiograph, model units "
        f"`{NORMALISATION_INPUT}` in [-1, 1]",
        f"- lung field: `{spec.normalisation.get('lung_field', 'none')}` (`mask`: outside the lung "
        "mask set to -1)",
        "",
        "## Training",
        "",
        f"- data folder: `{training['data']}`; images per split: "
        + ", ".join(
            f"{split}: " + ", ".join(f"{n} {label}" for label, n in per.items())
            for split, per in counts.items()
        ),
        f"- command: `{training['command']}`",
        f"- seed {training['seed']}, {training['epochs']} epochs, {training['steps']} steps, "
        f"device {training['device']}, world size {training['world_size']}",
        "",
        "## Test metrics",
        "",
    ]
    lines += [f"- {name}: {_format_metric(value)}" for name, value in spec.metrics.items()]
    return "\n".join(lines) + "\n"


def write_bundles(
    task: TrainingTask,
    data: PreparedData,
    metrics: Mapping[str, Any],
    position: Position,
    seconds: float,
) -> tuple[Path, ...]:
    """Save every :meth:`TrainingTask.bundles` entry with ``save_bundle`` and a model card."""
    from engine.models import BundleConfig, save_bundle

    config = task.config
    synthetic = (config.data / "phantoms.json").is_file() or (
        config.data / "generator.json"
    ).is_file()
    training = {
        "command": config.command_line(),
        "data": config.data.name,
        "images": split_counts(data.samples),
        "size": config.size,
        "seed": config.seed,
        "epochs": config.epochs,
        "steps": position.step,
        "device": task.runtime.device.type,
        "world_size": task.runtime.world_size,
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
        "options": config.to_dict(path_names=True),
        "synthetic": synthetic,
    }
    written = []
    for spec in task.bundles(metrics):
        normalisation = {
            "input": NORMALISATION_INPUT,
            "lung_field": config.lung_field.value,
            **spec.normalisation,
        }
        bundle_config = BundleConfig(
            model_id=spec.model_id,
            architecture=spec.architecture,
            architecture_kwargs=dict(spec.kwargs),
            input_size=(config.size, config.size),
            normalisation=normalisation,
            labels=LABELS,
            value_ranges=dict(spec.value_ranges),
            training=jsonable(training),
            metrics=jsonable(dict(spec.metrics)),
        )
        card = model_card(
            dataclasses.replace(spec, normalisation=normalisation), training, synthetic
        )
        try:
            written.append(
                save_bundle(
                    unwrap(spec.module), config.bundle_folder, bundle_config, model_card=card
                )
            )
        except ModelError as error:
            raise TrainingError(f"cannot write bundle {spec.model_id}: {error}") from None
    return tuple(written)
