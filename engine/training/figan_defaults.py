"""The recorded recipe of the shipped default FIGAN, for ``cxr-explain train-defaults`` to call.

``train_default_figan(classifier_dir, data_dir, out_dir)`` trains FIGAN for the classifier
bundle ``classifier_dir`` on the phantom data set ``data_dir`` (folder layout of
``engine.training.data``) and writes the bundle ``out_dir/figan`` (generator + PLS). The run
folder (checkpoint, metrics, samples) is ``work`` (default: ``data_dir/../figan``); a rerun
resumes it.

Sizing (see docs/figan.md for the measurements): the FIGAN runs at the classifier's own input
size, because the classifier's features change when it reads up-sampled images (the phantom
classifier at 128 px called every 64 px image up-sampled to 128 px one class). The default plan
asks for ``steps`` optimisation steps (not epochs, so the time does not grow with the data set)
and converts them into epochs for the data at hand; docs/figan.md has the time per step.

Like ``engine.training.defaults`` this is a training recipe: nothing in the application imports it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError
from engine.figan.pls import DEFAULT_COMPONENTS
from engine.training.checkpoint import CHECKPOINT_FOLDER, CHECKPOINT_INDEX
from engine.training.config import DeviceChoice
from engine.training.data import Split, of_split, scan_dataset
from engine.training.dispatch import train
from engine.training.figan import FIGANConfig
from engine.training.loop import TrainResult

log = logging.getLogger(__name__)

#: CPU seconds per step (batch 16) measured on one core of the development machine, by size,
#: with ngf = ndf = 8, max_width 128 and the score term on. Used only for the time estimate.
MEASURED_STEP_SECONDS = {64: 0.35, 128: 1.45}


@dataclass(frozen=True, slots=True)
class FiganPlan:
    """Sizes of the default FIGAN. ``size`` None: the classifier's input size.

    ``steps``: optimisation steps in all (rounded up to whole epochs).
    """

    size: int | None = None
    steps: int = 1200
    batch_size: int = 16
    components: int = DEFAULT_COMPONENTS
    latent_dim: int = 32
    ngf: int = 8
    ndf: int = 8
    max_width: int = 128
    score_weight: float = 1.0
    lr: float = 2e-4
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    @classmethod
    def quick(cls) -> FiganPlan:
        """Tiny smoke run for tests: 32 px, a few steps, narrow networks."""
        return cls(
            size=32,
            steps=4,
            batch_size=4,
            components=2,
            latent_dim=4,
            ngf=4,
            ndf=4,
            max_width=16,
            checkpoint_every=0,
        )

    def epochs_for(self, train_images: int) -> int:
        """Whole epochs that give at least :attr:`steps` steps over ``train_images`` images."""
        per_epoch = max(1, train_images // self.batch_size)
        return max(1, math.ceil(self.steps / per_epoch))

    def estimated_minutes(self, size: int, threads: int = 2) -> float | None:
        """Rough wall-clock minutes on ``threads`` idle cores (None for an unmeasured size)."""
        seconds = MEASURED_STEP_SECONDS.get(size)
        if seconds is None:
            return None
        speed_up = 1.0 if threads <= 1 else 1.5  # measured intra-op scaling of small convs
        return self.steps * seconds * (self.batch_size / 16) / speed_up / 60.0


def train_default_figan(
    classifier_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    plan: FiganPlan | None = None,
    *,
    work: str | Path | None = None,
    seed: int = 0,
    device: DeviceChoice | str = DeviceChoice.AUTO,
    progress_bar: bool = True,
    cancel: threading.Event | None = None,
) -> TrainResult:
    """Train the default FIGAN (see the module docstring); the bundle goes to ``out_dir/figan``."""
    from engine.models import load_bundle
    from engine.networks import Architecture

    plan = plan or FiganPlan()
    classifier_dir, data_dir, out_dir = Path(classifier_dir), Path(data_dir), Path(out_dir)
    run = Path(work) if work is not None else data_dir.parent / "figan"
    classifier = load_bundle(classifier_dir, expected_architecture=Architecture.CLASSIFIER)
    size = plan.size or int(max(classifier.config.input_size))
    lung_field = classifier.config.normalisation.get("lung_field", "mask")
    train_images = len(of_split(scan_dataset(data_dir), Split.TRAIN))
    if train_images < plan.batch_size:
        raise InputError(
            f"data folder {data_dir.name} has {train_images} training images; the FIGAN plan "
            f"needs at least one batch of {plan.batch_size}"
        )
    epochs = plan.epochs_for(train_images)
    estimate = plan.estimated_minutes(size)
    log.info(
        "FIGAN default: %d px, %d epochs (%d steps)%s",
        size,
        epochs,
        epochs * (train_images // plan.batch_size),
        f", about {estimate:.0f} min on 2 idle CPU cores" if estimate else "",
    )
    config = FIGANConfig(
        data=data_dir,
        out=run,
        bundle_dir=out_dir,
        classifier=classifier_dir,
        size=size,
        epochs=epochs,
        batch_size=plan.batch_size,
        lr=plan.lr,
        seed=seed,
        device=DeviceChoice(device),
        lung_field=lung_field,
        components=plan.components,
        latent_dim=plan.latent_dim,
        ngf=plan.ngf,
        ndf=plan.ndf,
        max_width=plan.max_width,
        score_weight=plan.score_weight,
        checkpoint_every=plan.checkpoint_every,
        progress_bar=progress_bar,
        resume=(run / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).is_file(),
    )
    return train(config, cancel=cancel)
