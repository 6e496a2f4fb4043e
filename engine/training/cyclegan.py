"""CycleGAN between healthy (domain A) and pneumoconiosis (domain B) lung-field images.

Networks: ``G_to_disease`` (A -> B), ``G_to_healthy`` (B -> A), ``D_healthy`` (judges domain A),
``D_disease`` (judges domain B); the discriminator kind is the paper's VGG-like critic or the
reference 70 x 70 PatchGAN. Losses per step, as in the reference CycleGAN:

- generators: least-squares adversarial ``(D(G(x)) - 1)^2`` for each direction, cycle
  ``cycle_weight * |G_BA(G_AB(a)) - a|_1`` (and for b), identity
  ``identity_weight * cycle_weight * |G_AB(b) - b|_1`` (and for a); optional extras, both off by
  default: classifier guidance ``w * BCE(C(G_AB(a)), 1) + w * BCE(C(G_BA(b)), 0)`` with a frozen
  classifier ``C`` (pushes translations across the decision boundary) and lung-mask consistency
  ``w * mean(|G(x) - x| * (1 - lung))`` (changes outside the lung field penalised). With
  ``guidance_margin`` the guidance is a hinge on the logit that stops pushing once the logit is
  that far across the boundary; with ``guidance_on_composite`` the classifier judges what the
  user will see: the generator's change (inside the lungs) resampled to the classifier's input
  size and added to the image loaded at that size, not the generator's own low-resolution
  output, so that a flip the generator learns survives the trip to full resolution (a change
  that flips the classifier only at 128 px was resampled away and flipped 0 % of the images as
  displayed);
- discriminators: ``0.5 * ((D(real) - 1)^2 + D(pool(fake))^2)`` with an image pool of 50.

Both optimizers are Adam (2e-4, betas 0.5/0.999); the learning rate is constant for the first
``epochs - decay_epochs`` epochs and then falls linearly towards 0 (reference schedule), with
``decay_epochs = epochs // 2`` by default: the paper's 700 epochs decay over the last 350.

Test metrics: cycle reconstruction error (mean absolute error in display units [0, 1]) per
direction, the mean lung-field intensity change per direction (the paper's finding: to-disease
brightens, to-healthy darkens), and with a classifier bundle the flip rates: the share of healthy
test images the classifier calls diseased after translation, and vice versa.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InputError
from engine.networks import build_network
from engine.training.config import TrainConfig
from engine.training.cyclegan_config import CycleGANConfig, GeneratorKind
from engine.training.data import DeviceMasks, ImageSet, load_images, segmenter_predictor
from engine.training.gan_batch import GanBatch
from engine.training.gan_guidance import ClassifierGuides
from engine.training.gan_losses import lsgan, total_variation
from engine.training.image_pool import ImagePool
from engine.training.optim import adam, check_finite, set_requires_grad
from engine.training.run_files import to_display
from engine.training.runtime import Runtime
from engine.training.task import BundleSpec, PreparedData, TrainingTask

TO_DISEASE_ID = "generator_to_disease"
TO_HEALTHY_ID = "generator_to_healthy"


class _LargeBatch(NamedTuple):
    """A batch at the classifier's size: (image, lungs), and each file's pixel grid (None: not
    known; the change is then resampled straight to the classifier's size)."""

    pair: tuple[torch.Tensor, torch.Tensor]
    source_shapes: list[tuple[int, int]] | None


class CycleGANTask(TrainingTask):
    """Domain A = healthy (label 0), B = pneumoconiosis (label 1), train split."""

    config_type = CycleGANConfig

    @classmethod
    def data_devices(cls, config: TrainConfig) -> DeviceMasks:
        """The constrained generator keeps foreign objects unchanged when the data mark them."""
        constrained = getattr(config, "generator", None) is GeneratorKind.CONSTRAINED
        return DeviceMasks.WHEN_PRESENT if constrained else DeviceMasks.NONE

    def __init__(self, config: CycleGANConfig, runtime: Runtime, data: PreparedData) -> None:
        super().__init__(config, runtime, data)
        self.gan_config = config
        self.domain_a = data.train.of_label(0)
        self.domain_b = data.train.of_label(1)
        if config.mask_consistency > 0 and data.train.lungs is None:
            raise InputError(
                "--mask-consistency needs lung masks (masks/ in the data folder or --segmenter)"
            )
        place = runtime.place
        generator = config.generator_architecture
        self.g_ab = place(build_network(generator, config.generator_kwargs_toward(disease=True)))
        self.g_ba = place(build_network(generator, config.generator_kwargs_toward(disease=False)))
        architecture = config.discriminator_architecture
        self.d_a = place(build_network(architecture, config.discriminator_kwargs))
        self.d_b = place(build_network(architecture, config.discriminator_kwargs))
        self.wrapped = {
            name: runtime.wrap(module)
            for name, module in (
                ("g_ab", self.g_ab),
                ("g_ba", self.g_ba),
                ("d_a", self.d_a),
                ("d_b", self.d_b),
            )
        }
        self.optimizer_g = adam(
            itertools.chain(self.g_ab.parameters(), self.g_ba.parameters()), config
        )
        self.optimizer_d = adam(
            itertools.chain(self.d_a.parameters(), self.d_b.parameters()), config
        )
        self.pool_a = ImagePool(config.pool_size)
        self.pool_b = ImagePool(config.pool_size)
        self.guides: ClassifierGuides | None = None
        if config.classifier is not None:
            self.guides = ClassifierGuides(
                (config.classifier, *config.extra_guides),
                config.lung_field.value,
                runtime.device,
            )
        self.classifier_size = config.size if self.guides is None else self.guides.size
        self.composite_a: ImageSet | None = None
        self.composite_b: ImageSet | None = None
        # The current batch's (image, lungs) at the classifier's size and its files' pixel grids,
        # per domain (set by batch).
        self._large: tuple[_LargeBatch, _LargeBatch] | None = None
        if config.guidance_on_composite:
            self.composite_a, self.composite_b = self._at_classifier_size(
                self.domain_a, self.domain_b
            )
        names = ["g_gan_to_disease", "g_gan_to_healthy", "cycle_healthy", "cycle_disease"]
        if config.identity_weight > 0:
            names += ["identity_healthy", "identity_disease"]
        if config.classifier_guidance > 0:
            names.append("guidance")
        if config.mask_consistency > 0:
            names.append("mask_consistency")
        if config.sparsity_weight > 0:
            names.append("sparsity")
        if config.smoothness_weight > 0:
            names.append("smoothness")
        self.generator_loss_names = tuple(names)
        self.loss_names = (*names, "g_total", "d_healthy", "d_disease")

    def _at_classifier_size(self, *domains: ImageSet) -> tuple[ImageSet, ...]:
        """Each domain's samples loaded again at the classifier's input size (same lung source,
        one segmenter for all)."""
        config = self.gan_config
        predictor = (
            segmenter_predictor(config.segmenter, self.runtime.device)
            if config.segmenter is not None
            else None
        )
        return tuple(
            load_images(
                images.samples,
                self.classifier_size,
                lung_field=config.lung_field,
                mask_predictor=predictor,
            )
            for images in domains
        )

    def modules(self) -> Mapping[str, nn.Module]:
        return {
            "G_to_disease": self.g_ab,
            "G_to_healthy": self.g_ba,
            "D_healthy": self.d_a,
            "D_disease": self.d_b,
        }

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        return {"generators": self.optimizer_g, "discriminators": self.optimizer_d}

    def pools(self) -> Mapping[str, ImagePool]:
        return {"healthy": self.pool_a, "disease": self.pool_b}

    def set_train_mode(self, training: bool) -> None:
        super().set_train_mode(training)
        if self.guides is not None:
            self.guides.eval()  # always frozen

    def epoch_length(self) -> int:
        return max(len(self.domain_a), len(self.domain_b))

    def lr_factor(self, epoch: int) -> float:
        decay = self.gan_config.resolved_decay_epochs
        start = self.gan_config.epochs - decay
        if epoch < start:
            return 1.0
        return 1.0 - (epoch - start + 1) / float(decay + 1)

    def _domain_order(self, epoch: int, domain: int, n: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch * 2 + domain)
        return torch.randperm(n, generator=generator)

    def batch(self, indices: Sequence[int], epoch: int) -> GanBatch:
        """Unpaired batch: item ``i`` pairs A[order_A[i % n_A]] with B[order_B[i % n_B]]."""
        a, b = self.domain_a, self.domain_b
        order_a = self._domain_order(epoch, 0, len(a))
        order_b = self._domain_order(epoch, 1, len(b))
        index_a = np.asarray([int(order_a[i % len(a)]) for i in indices], dtype=np.int64)
        index_b = np.asarray([int(order_b[i % len(b)]) for i in indices], dtype=np.int64)

        def take(
            images: ImageSet, index: npt.NDArray[np.int64]
        ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
            """(image, lungs, keep) of the batch, shifted alike; lungs/keep None when absent."""
            masks = [m for m in (images.lungs, images.devices) if m is not None]
            shifted = self.augment(
                torch.from_numpy(images.images[index]),
                *(torch.from_numpy(m[index]) for m in masks),
            )
            parts = iter(shifted[1:])
            lungs = next(parts) if images.lungs is not None else None
            keep = next(parts) if images.devices is not None else None
            return shifted[0], lungs, keep

        parts_a, parts_b = take(a, index_a), take(b, index_b)
        tensor = self.runtime.tensor

        def placed(part: torch.Tensor | None) -> torch.Tensor | None:
            return None if part is None else tensor(part)

        lungs_a, lungs_b = placed(parts_a[1]), placed(parts_b[1])
        self._large = None
        if self.composite_a is not None and self.composite_b is not None:
            self._large = (
                self._large_pair(self.composite_a, index_a),
                self._large_pair(self.composite_b, index_b),
            )
        return GanBatch(
            tensor(parts_a[0]),
            tensor(parts_b[0]),
            lungs_a,
            lungs_b,
            placed(parts_a[2]),
            placed(parts_b[2]),
        )

    def _large_pair(self, images: ImageSet, index: npt.NDArray[np.int64]) -> _LargeBatch:
        lungs = images.lungs if images.lungs is not None else np.ones_like(images.images)
        tensor = self.runtime.tensor
        shapes = None
        if images.source_shapes is not None:
            shapes = [(int(h), int(w)) for h, w in images.source_shapes[index]]
        return _LargeBatch((tensor(images.images[index]), tensor(lungs[index])), shapes)

    def generator_losses(
        self,
        real_a: torch.Tensor,
        real_b: torch.Tensor,
        lungs_a: torch.Tensor | None = None,
        lungs_b: torch.Tensor | None = None,
        keep_a: torch.Tensor | None = None,
        keep_b: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """The generator objective's terms, and the fakes (to disease, to healthy)."""
        config = self.gan_config
        with self.runtime.autocast():
            # A translation and its way back share the anatomy's keep mask.
            fake_b = self._generate("g_ab", real_a, keep_a)
            fake_a = self._generate("g_ba", real_b, keep_b)
            rec_a = self._generate("g_ba", fake_b, keep_a)
            rec_b = self._generate("g_ab", fake_a, keep_b)
            # the discriminators' gradients are not needed here: the unwrapped modules keep
            # DistributedDataParallel out of this backward pass
            losses = {
                "g_gan_to_disease": lsgan(self.d_b(fake_b), True),
                "g_gan_to_healthy": lsgan(self.d_a(fake_a), True),
            }
            losses["cycle_healthy"] = config.cycle_weight * F.l1_loss(rec_a.float(), real_a)
            losses["cycle_disease"] = config.cycle_weight * F.l1_loss(rec_b.float(), real_b)
            if config.identity_weight > 0:
                weight = config.cycle_weight * config.identity_weight
                same_a = self._generate("g_ba", real_a, keep_a).float()
                same_b = self._generate("g_ab", real_b, keep_b).float()
                losses["identity_healthy"] = weight * F.l1_loss(same_a, real_a)
                losses["identity_disease"] = weight * F.l1_loss(same_b, real_b)
            guides = self.guides
            if config.classifier_guidance > 0 and guides is not None:
                large = self._large
                if large is not None:
                    seen_b = guides.composite(real_a, fake_b, lungs_a, *large[0])
                    seen_a = guides.composite(real_b, fake_a, lungs_b, *large[1])
                else:
                    seen_b, seen_a = guides.resized(fake_b), guides.resized(fake_a)
                margin = config.guidance_margin
                losses["guidance"] = config.classifier_guidance * (
                    guides.loss(seen_b, True, margin) + guides.loss(seen_a, False, margin)
                )
            if config.mask_consistency > 0 and lungs_a is not None and lungs_b is not None:
                outside_a, outside_b = 1.0 - lungs_a, 1.0 - lungs_b
                losses["mask_consistency"] = config.mask_consistency * (
                    ((fake_b.float() - real_a).abs() * outside_a).mean()
                    + ((fake_a.float() - real_b).abs() * outside_b).mean()
                )
            if config.sparsity_weight > 0:
                # L1 of the change itself: the smallest change that does the job.
                losses["sparsity"] = config.sparsity_weight * (
                    (fake_b.float() - real_a).abs().mean() + (fake_a.float() - real_b).abs().mean()
                )
            if config.smoothness_weight > 0:
                # Total variation of the change: a pixel-scale stripe or checkerboard pattern
                # (what fools a texture-reading classifier) costs far more than a few blobs.
                losses["smoothness"] = config.smoothness_weight * (
                    total_variation(fake_b.float() - real_a)
                    + total_variation(fake_a.float() - real_b)
                )
        return losses, fake_b, fake_a

    def _generate(self, name: str, image: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        """Generator ``name`` on ``image``; a keep mask (only the constrained generator takes
        one, and only data with device masks give one) holds those pixels unchanged."""
        generator = self.wrapped[name]
        return generator(image) if keep is None else generator(image, keep)

    def train_step(self, indices: Sequence[int], epoch: int, step: int) -> dict[str, float]:
        batch = self.batch(indices, epoch)
        real_a, real_b = batch.real_a, batch.real_b
        discriminators = [self.d_a, self.d_b]
        set_requires_grad(discriminators, False)
        losses, fake_b, fake_a = self.generator_losses(*batch)
        total_g = torch.stack([losses[name] for name in self.generator_loss_names]).sum()
        losses["g_total"] = total_g
        values = check_finite(losses, step)
        self.optimizer_g.zero_grad(set_to_none=True)
        total_g.backward()
        self.optimizer_g.step()
        set_requires_grad(discriminators, True)
        pooled_b = self.pool_b.query(fake_b)
        pooled_a = self.pool_a.query(fake_a)
        with self.runtime.autocast():
            d_b = 0.5 * (
                lsgan(self.wrapped["d_b"](real_b), True)
                + lsgan(self.wrapped["d_b"](pooled_b), False)
            )
            d_a = 0.5 * (
                lsgan(self.wrapped["d_a"](real_a), True)
                + lsgan(self.wrapped["d_a"](pooled_a), False)
            )
        values |= check_finite({"d_healthy": d_a, "d_disease": d_b}, step)
        self.optimizer_d.zero_grad(set_to_none=True)
        (d_a + d_b).backward()
        self.optimizer_d.step()
        return values

    # ------------------------------------------------------------------ evaluation

    def _translate(self, module: nn.Module, images: npt.NDArray[np.float32]) -> torch.Tensor:
        out = []
        for start in range(0, len(images), 8):
            with self.runtime.autocast():
                out.append(module(self.runtime.tensor(images[start : start + 8])).float())
        return torch.cat(out) if out else torch.zeros(0)

    def evaluate(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for label, name, forward, backward in (
            (0, "to_disease", self.g_ab, self.g_ba),
            (1, "to_healthy", self.g_ba, self.g_ab),
        ):
            images = self.test_set.of_label(label)
            metrics[f"test_images_{'healthy' if label == 0 else 'disease'}"] = len(images)
            if not len(images):
                metrics[f"test_cycle_mae_{name}"] = None
                metrics[f"test_mean_lung_change_{name}"] = None
                if self.guides is not None:
                    metrics[f"test_flip_rate_{name}"] = None
                continue
            real = self.runtime.tensor(images.images).float()
            fake = self._translate(forward, images.images)
            reconstructed = self._translate(backward, fake.cpu().numpy())
            # display units: model units / 2
            metrics[f"test_cycle_mae_{name}"] = float((reconstructed - real).abs().mean() / 2)
            if images.lungs is not None:
                lungs = self.runtime.tensor(images.lungs).float()
                change = ((fake - real) / 2 * lungs).sum() / lungs.sum().clamp(min=1)
                metrics[f"test_mean_lung_change_{name}"] = float(change)
            else:
                metrics[f"test_mean_lung_change_{name}"] = None
            guides = self.guides
            if guides is not None:
                logits = torch.cat(
                    [guides.logits(guides.resized(fake[i : i + 8])) for i in range(0, len(fake), 8)]
                )
                flipped = logits > 0 if label == 0 else logits < 0
                metrics[f"test_flip_rate_{name}"] = float(flipped.float().mean())
        values = [
            metrics[key] for key in ("test_cycle_mae_to_disease", "test_cycle_mae_to_healthy")
        ]
        present = [v for v in values if v is not None]
        metrics["test_cycle_mae"] = float(np.mean(present)) if present else None
        return metrics

    def sample_rows(self) -> list[list[npt.NDArray[np.float32]]]:
        """Per image: original, translated, reconstructed, difference (gray = no change)."""
        source = self.test_set if len(self.test_set) else self.train_set
        rows = []
        for label, forward, backward in ((0, self.g_ab, self.g_ba), (1, self.g_ba, self.g_ab)):
            images = source.of_label(label).images[:2]
            if not len(images):
                continue
            fake = self._translate(forward, images)
            reconstructed = self._translate(backward, fake.cpu().numpy())
            for i in range(len(images)):
                real = to_display(torch.from_numpy(images[i]))
                translated = to_display(fake[i])
                difference = np.clip(0.5 + (translated - real), 0.0, 1.0).astype(np.float32)
                rows.append([real, translated, to_display(reconstructed[i]), difference])
        return rows

    def bundles(self, metrics: Mapping[str, Any]) -> list[BundleSpec]:
        common: dict[str, Any] = {
            "architecture": self.gan_config.generator_architecture,
            "value_ranges": {"input": [-1, 1], "output": [-1, 1]},
            "metrics": metrics,
        }
        # Whether the data's device masks held those pixels unchanged in training: it depends
        # on the data folder, not on an option, so the model card says it.
        kept = self.train_set.devices is not None
        note = " Trained with the data's device masks as keep mask." if kept else ""
        directions = (
            (TO_DISEASE_ID, self.g_ab, True, "healthy", "pneumoconiosis"),
            (TO_HEALTHY_ID, self.g_ba, False, "pneumoconiosis", "healthy"),
        )
        return [
            BundleSpec(
                model_id=model_id,
                module=generator,
                kwargs=self.gan_config.generator_kwargs_toward(disease=disease),
                description=(
                    f"CycleGAN generator {source} -> {target} (translates a lung-field image "
                    f"into the {'disease' if disease else 'healthy'} domain). Output in model "
                    "units [-1, 1]." + note
                ),
                normalisation={"direction": f"{source}->{target}"},
                **common,
            )
            for model_id, generator, disease, source, target in directions
        ]
