"""FIGAN: a conditional GAN that draws lung-field images from the classifier's PLS components.

Before the first step (deterministically, so a resumed run rebuilds the same thing):

1. the frozen classifier bundle (``--classifier``) reads its feature layer for every training
   image (:mod:`engine.figan.features`; images resized to the classifier's size);
2. PLS against the label keeps ``components`` components (:mod:`engine.figan.pls`); each training
   image's *condition* is its component scores in SD units.

Each step (batch of real lung-field images ``x`` with conditions ``c``, noise ``z ~ N(0, I)``):

- critic (projection discriminator, hinge loss):
  ``relu(1 - D(x, c)) + relu(1 + D(G(c, z), c))``;
- generator: ``-D(G(c, z), c)`` plus ``score_weight * mean((S(G(c, z)) - c)^2)``, where ``S`` is the
  frozen classifier + PLS: the *score term* asks that the classifier read the requested component
  scores off the generated image. It is logged as ``g_score`` even when its weight is 0, so runs
  with and without it can be compared on the same scale.

Test metrics: the explained label variance per component; the correlation of requested and
achieved scores per component (test-set conditions, and along sweeps from -2 to +2 SD holding the
rest); the classifier-feature Frechet distance of generated against real training images, overall
and with each component drawn uniformly over [-2, 2] SD. The bundle is the generator with the PLS
projection (``pls.safetensors`` + ``pls.json``) beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InputError
from engine.figan.features import ScoreProjector, extract_features
from engine.figan.measures import (
    frechet_distance,
    generate,
    pearson,
    sweep_correlations,
    sweep_scores,
)
from engine.figan.pls import DEFAULT_COMPONENTS, FeaturePLS, fit_pls, save_pls
from engine.networks import Architecture, ConditionalGenerator, ProjectionDiscriminator
from engine.networks.conditional_generator import SIZES
from engine.training.config import ModelKind, TrainConfig, check_option, check_whole, coerce_paths
from engine.training.optim import adam, check_finite, set_requires_grad
from engine.training.run_files import to_display
from engine.training.runtime import Runtime
from engine.training.task import BundleSpec, PreparedData, TrainingTask

log = logging.getLogger(__name__)

MODEL_ID = "figan"
SWEEP_SPAN = 2.0  # SD units either side of the mean
SWEEP_POSITIONS = 9
_EVAL_IMAGES = 200  # generated images per Frechet distance
_EVAL_SWEEPS = 16  # base conditions per sweep correlation


@dataclass(frozen=True, slots=True, kw_only=True)
class FIGANConfig(TrainConfig):
    """FIGAN options. ``classifier``: the classifier bundle to explain (required).

    ``components``: PLS components (the condition's length); ``latent_dim``: noise length;
    ``ngf`` / ``ndf``: generator / critic channels at full resolution; ``max_width``: channel cap;
    ``score_weight``: weight of the score term (0 = a plain conditional GAN).
    """

    KIND: ClassVar[ModelKind] = ModelKind.FIGAN

    size: int = 64
    epochs: int = 40
    batch_size: int = 16
    lr: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    classifier: Path | None = None
    components: int = DEFAULT_COMPONENTS
    latent_dim: int = 32
    ngf: int = 16
    ndf: int = 16
    max_width: int = 128
    score_weight: float = 1.0

    def __post_init__(self) -> None:
        TrainConfig.__post_init__(self)
        if self.classifier is None:
            raise InputError("--classifier BUNDLE_DIR is required: FIGAN explains a classifier")
        coerce_paths(self, "classifier")
        check_option(self.size in SIZES, "size", f"must be one of {list(SIZES)}", self.size)
        check_whole(self, 1, "components", "latent_dim", "ngf", "ndf", "max_width")
        check_option(self.score_weight >= 0, "score-weight", "must be >= 0", self.score_weight)

    def _network_kwargs(self, base_width: int) -> dict[str, Any]:
        """What the generator and the critic share: the condition, the size and the widths."""
        return {
            "n_conditions": self.components,
            "size": self.size,
            "base_width": base_width,
            "max_width": self.max_width,
        }

    @property
    def generator_kwargs(self) -> dict[str, Any]:
        return {**self._network_kwargs(self.ngf), "latent_dim": self.latent_dim, "out_channels": 1}

    @property
    def discriminator_kwargs(self) -> dict[str, Any]:
        return {**self._network_kwargs(self.ndf), "in_channels": 1}


class FIGANTask(TrainingTask):
    """Conditional GAN on the training split; conditions from the classifier's PLS scores."""

    config_type = FIGANConfig

    def __init__(self, config: FIGANConfig, runtime: Runtime, data: PreparedData) -> None:
        super().__init__(config, runtime, data)
        from engine.models import load_bundle

        self.figan_config = config
        if config.classifier is None:  # checked by the config; keeps the type checker informed
            raise InputError("--classifier BUNDLE_DIR is required")
        loaded = load_bundle(
            config.classifier, expected_architecture=Architecture.CLASSIFIER, device=runtime.device
        )
        field = loaded.config.normalisation.get("lung_field")
        if field not in (None, config.lung_field.value):
            log.warning(
                "classifier %s was trained with lung_field %s, this run uses %s",
                loaded.config.model_id,
                field,
                config.lung_field.value,
            )
        self.classifier_config = loaded.config
        classifier_size = int(max(loaded.config.input_size))
        if classifier_size != config.size:
            log.warning(
                "FIGAN runs at %d px but the classifier reads %d px: the component scores are "
                "measured on resized images, which can change what the classifier sees",
                config.size,
                classifier_size,
            )
        device = runtime.device
        train_features = extract_features(
            loaded.module, data.train.images, input_size=classifier_size, device=device
        )
        self.train_features = train_features.features
        self.pls: FeaturePLS = fit_pls(
            train_features.features,
            data.train.labels,
            config.components,
            source={
                "classifier_model_id": loaded.config.model_id,
                "classifier_sha256": loaded.config.sha256,
                "classifier_input_size": classifier_size,
                "data": config.data.name,
                "size": config.size,
                "lung_field": config.lung_field.value,
                "split": "train",
            },
        )
        self.projector = ScoreProjector(loaded.module, self.pls, classifier_size).to(device)
        self.conditions = torch.from_numpy(self.pls.scores(self.train_features)).float()
        self.test_conditions = torch.zeros(0, config.components)
        if len(data.test):
            test = extract_features(
                loaded.module, data.test.images, input_size=classifier_size, device=device
            )
            self.test_conditions = torch.from_numpy(self.pls.scores(test.features)).float()
        generator = ConditionalGenerator(**config.generator_kwargs)
        # start from the mean lung-field image: the GAN learns deviations from it
        generator.set_base_image(torch.from_numpy(data.train.images.mean(axis=0, keepdims=True)))
        self.generator = runtime.place(generator)
        self.discriminator = runtime.place(ProjectionDiscriminator(**config.discriminator_kwargs))
        self.wrapped_g = runtime.wrap(self.generator)
        self.wrapped_d = runtime.wrap(self.discriminator)
        self.optimizer_g = adam(self.generator.parameters(), config)
        self.optimizer_d = adam(self.discriminator.parameters(), config)
        self.loss_names = ("d_loss", "d_real", "d_fake", "g_adversarial", "g_score", "g_total")

    def modules(self) -> Mapping[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        return {"generator": self.optimizer_g, "discriminator": self.optimizer_d}

    def set_train_mode(self, training: bool) -> None:
        super().set_train_mode(training)
        self.projector.eval()  # the classifier is always frozen

    def epoch_length(self) -> int:
        return len(self.train_set)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Real images, their conditions and fresh noise (drawn on the CPU: same on any device)."""
        index = np.asarray(indices, dtype=np.int64)
        (images,) = self.augment(torch.from_numpy(self.train_set.images[index]))
        conditions = self.conditions[torch.from_numpy(index)]
        latents = torch.randn(len(index), self.figan_config.latent_dim)
        tensor = self.runtime.tensor
        return tensor(images), tensor(conditions), tensor(latents)

    def score_loss(self, images: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        scores, _ = self.projector(images.float())
        return F.mse_loss(scores.float(), conditions)

    def train_step(self, indices: Sequence[int], epoch: int, step: int) -> dict[str, float]:
        real, conditions, latents = self.batch(indices)
        weight = self.figan_config.score_weight
        with self.runtime.autocast():
            fake = self.wrapped_g(conditions, latents)
            d_real = F.relu(1.0 - self.wrapped_d(real, conditions).float()).mean()
            d_fake = F.relu(1.0 + self.wrapped_d(fake.detach(), conditions).float()).mean()
        d_loss = d_real + d_fake
        values = check_finite({"d_loss": d_loss, "d_real": d_real, "d_fake": d_fake}, step)
        self.optimizer_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizer_d.step()

        set_requires_grad([self.discriminator], False)
        try:
            with self.runtime.autocast():
                # the unwrapped critic keeps DistributedDataParallel out of the generator's pass
                g_adversarial = -self.discriminator(fake, conditions).float().mean()
                if weight > 0:
                    g_score = self.score_loss(fake, conditions)
                else:
                    with torch.no_grad():
                        g_score = self.score_loss(fake.detach(), conditions)
            g_total = g_adversarial + weight * g_score if weight > 0 else g_adversarial
            values |= check_finite(
                {"g_adversarial": g_adversarial, "g_score": g_score, "g_total": g_total}, step
            )
            self.optimizer_g.zero_grad(set_to_none=True)
            g_total.backward()
            self.optimizer_g.step()
        finally:
            set_requires_grad([self.discriminator], True)
        return values

    # ------------------------------------------------------------------ evaluation

    def _eval_latents(self, n: int, offset: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.config.seed * 7_919 + offset)
        latents = torch.randn(n, self.figan_config.latent_dim, generator=generator)
        return latents.to(self.runtime.device)

    def _fake_features(self, conditions: torch.Tensor, latents: torch.Tensor) -> np.ndarray:
        images = generate(self.generator, conditions, latents)
        return extract_features(
            self.projector.classifier,
            images,
            input_size=self.projector.input_size,
            device=self.runtime.device,
        ).features

    def evaluate(self) -> dict[str, Any]:
        config, device = self.figan_config, self.runtime.device
        k = config.components
        metrics: dict[str, Any] = {}
        for j in range(k):
            metrics[f"explained_label_variance_{j + 1}"] = float(
                self.pls.explained_label_variance[j]
            )
        n = min(len(self.conditions), _EVAL_IMAGES)
        generator = torch.Generator().manual_seed(config.seed * 7_919 + 1)
        chosen = torch.randperm(len(self.conditions), generator=generator)[:n]
        base = self.conditions[chosen].to(device)
        latents = self._eval_latents(n, 2)
        real = self.train_features
        if n >= 2:
            metrics["classifier_feature_frechet_distance"] = frechet_distance(
                real, self._fake_features(base, latents)
            )
            uniform = torch.Generator().manual_seed(config.seed * 7_919 + 3)
            for j in range(k):
                varied = base.clone()
                draws = torch.rand(n, generator=uniform) * 2 * SWEEP_SPAN - SWEEP_SPAN
                varied[:, j] = draws.to(device)
                metrics[f"classifier_feature_frechet_distance_{j + 1}"] = frechet_distance(
                    real, self._fake_features(varied, latents)
                )
        if len(self.test_conditions) >= 2:
            requested = self.test_conditions.to(device)
            images = generate(self.generator, requested, self._eval_latents(len(requested), 4))
            achieved = self.projector(images)[0].double().cpu().numpy()
            wanted = requested.double().cpu().numpy()
            for j in range(k):
                metrics[f"test_score_r_{j + 1}"] = pearson(wanted[:, j], achieved[:, j])
            metrics["test_score_mae"] = float(np.mean(np.abs(achieved - wanted)))
        positions = np.linspace(-SWEEP_SPAN, SWEEP_SPAN, SWEEP_POSITIONS)
        m = min(len(self.conditions), _EVAL_SWEEPS)
        sweep_base, sweep_latents = base[:m], latents[:m]
        for j in range(k):
            achieved_sweep = sweep_scores(
                self.generator, self.projector, sweep_base, sweep_latents, j, positions
            )
            r = sweep_correlations(achieved_sweep, j, positions)
            finite = r[np.isfinite(r)]
            metrics[f"sweep_score_r_{j + 1}"] = float(finite.mean()) if finite.size else None
        return metrics

    def sample_rows(self) -> list[list[npt.NDArray[np.float32]]]:
        """Row 0: real training images; row ``j``: component ``j`` from -2 to +2 SD, rest 0."""
        device = self.runtime.device
        rows = [[to_display(torch.from_numpy(image)) for image in self.train_set.images[:7]]]
        positions = np.linspace(-SWEEP_SPAN, SWEEP_SPAN, 7)
        latent = self._eval_latents(1, 5)
        for j in range(self.figan_config.components):
            conditions = torch.zeros(len(positions), self.figan_config.components, device=device)
            conditions[:, j] = torch.from_numpy(positions).float().to(device)
            images = generate(self.generator, conditions, latent.repeat(len(positions), 1))
            rows.append([to_display(image) for image in images])
        return rows

    def bundles(self, metrics: Mapping[str, Any]) -> list[BundleSpec]:
        shares = ", ".join(
            f"component {j + 1}: {100 * v:.1f} %"
            for j, v in enumerate(self.pls.explained_label_variance)
        )
        return [
            BundleSpec(
                model_id=MODEL_ID,
                module=self.generator,
                architecture=Architecture.FIGAN_GENERATOR,
                kwargs=self.figan_config.generator_kwargs,
                description=(
                    "FIGAN conditional generator: (PLS component scores of the classifier "
                    f"`{self.classifier_config.model_id}` in SD units, noise N(0, I)) -> "
                    "lung-field image in model units [-1, 1]. The PLS projection is stored "
                    "beside it (pls.safetensors, pls.json); share of label variance explained: "
                    f"{shares}. Images it draws are synthetic and not for diagnosis."
                ),
                value_ranges={
                    "condition": "PLS component scores, training SD units (+ = toward "
                    "pneumoconiosis)",
                    "latent": "N(0, I)",
                    "output": [-1, 1],
                },
                normalisation={
                    "condition": "pls.json",
                    "classifier_model_id": self.classifier_config.model_id,
                    "classifier_sha256": self.classifier_config.sha256,
                },
                metrics=metrics,
            )
        ]

    def after_bundles(self, bundles: Sequence[Path]) -> None:
        """Write the PLS projection the generator's conditions are measured in beside it."""
        for bundle in bundles:  # rank 0 only: the others write nothing
            save_pls(self.pls, bundle)
