"""The classifier being explained: ClassifierNet on the lung-field image, BCE with logits.

Test metrics: ROC AUC (None when the test split holds one class only), accuracy at probability
0.5, the mean test loss and the number of test images.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InputError, ModelError
from engine.inference.ood import fit_feature_density, network_features, save_feature_density
from engine.networks import Architecture, ClassifierNet
from engine.training.adversarial import ADVERSARIAL_NORMS, adversarial
from engine.training.augment import InputAugmentation
from engine.training.config import ModelKind, TrainConfig, check_option, check_whole, coerce_paths
from engine.training.data import LungField
from engine.training.gradient_alignment import DISEASED, alignment_loss, twin_indices
from engine.training.optim import recalibrate_batchnorm
from engine.training.run_files import to_display
from engine.training.runtime import Runtime
from engine.training.task import BundleSpec, PreparedData, SupervisedTask

MODEL_ID = "classifier"
LR_SCHEDULES = ("constant", "cosine")


def cosine_lr_factor(epoch: int, epochs: int) -> float:
    """Half a cosine from 1 at epoch 0 towards 0 after the last epoch (never 0 while training)."""
    return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassifierConfig(TrainConfig):
    """ClassifierNet options: ``width`` stem channels, ``stages`` residual stages.

    ``augment_input``: draw the input variations of :class:`InputAugmentation` for every
    training batch (what differs between files, resolutions, masks and processing of one image).
    ``augment_stripes``: with ``augment_input``, the share of training images that also get a
    label-free horizontal line pattern (:func:`engine.training.augment.line_pattern`), so that
    such patterns, which a guided generator used to remove disease evidence, carry no label.
    ``model_id``: the bundle's folder name (``oracle`` for the independent judge of
    counterfactuals, trained on its own seed and width).
    ``lr_schedule``: ``constant``, or ``cosine`` (the learning rate falls from ``lr`` along half a
    cosine over the epochs, so the last epochs settle instead of hopping around a minimum).
    ``init_from``: a classifier bundle whose weights start the run (fine-tuning, e.g. the shipped
    classifier on one's own images); its width, stages and feature size must be this run's.
    ``adversarial_radius``: above 0, every training batch is replaced by its adversarial
    counterpart (:func:`engine.training.adversarial.adversarial`: the lung-field change of at
    most this size, in model units, found by ``adversarial_steps`` gradient steps);
    ``adversarial_norm`` says what the size is: ``l2``, an RMS per lung pixel, or ``linf``, the
    largest change of any lung pixel. ``adversarial_clean_share``: above 0, the clean batch is
    kept beside its adversarial counterpart and the loss is this share of the clean images' BCE
    plus the rest of the adversarial ones' (Goodfellow et al., ICLR 2015): the clean term keeps
    the mildest findings, whose adversarial counterparts may be nearly healthy, labelled diseased.
    ``gradient_alignment``: above 0, the weight of a term that points the gradient of the
    disease logit at each diseased training image along its difference from its healthy twin
    (:mod:`engine.training.gradient_alignment`; needs paired data: the same id in both classes).
    """

    KIND: ClassVar[ModelKind] = ModelKind.CLASSIFIER

    width: int = 16
    stages: int = 4
    feature_dim: int = 64
    dropout: float = 0.2
    weight_decay: float = 1e-4
    augment_input: bool = False
    augment_stripes: float = 0.0
    model_id: str = MODEL_ID
    lr_schedule: str = "constant"
    init_from: Path | None = None
    adversarial_radius: float = 0.0
    adversarial_steps: int = 3
    adversarial_norm: str = "l2"
    adversarial_clean_share: float = 0.0
    gradient_alignment: float = 0.0

    def __post_init__(self) -> None:
        TrainConfig.__post_init__(self)
        coerce_paths(self, "init_from")
        check_option(
            self.model_id.isidentifier() and self.model_id.islower(),
            "model-id",
            "must be a lower-case name such as classifier or oracle",
            self.model_id,
        )
        check_option(
            self.lr_schedule in LR_SCHEDULES,
            "lr-schedule",
            f"must be one of {', '.join(LR_SCHEDULES)}",
            self.lr_schedule,
        )
        check_whole(self, 1, "width", "stages", "feature_dim", "adversarial_steps")
        check_option(
            0.0 <= self.adversarial_radius <= 1.0,
            "adversarial-radius",
            "must be in [0, 1] (a change per lung pixel, model units)",
            self.adversarial_radius,
        )
        check_option(
            self.adversarial_norm in ADVERSARIAL_NORMS,
            "adversarial-norm",
            f"must be one of {', '.join(ADVERSARIAL_NORMS)}",
            self.adversarial_norm,
        )
        check_option(
            0.0 <= self.adversarial_clean_share < 1.0,
            "adversarial-clean-share",
            "must be a share in [0, 1)",
            self.adversarial_clean_share,
        )
        check_option(
            self.adversarial_radius > 0 or self.adversarial_clean_share == 0.0,
            "adversarial-clean-share",
            "needs --adversarial-radius",
            self.adversarial_clean_share,
        )
        check_option(
            self.gradient_alignment >= 0.0,
            "gradient-alignment",
            "must be >= 0",
            self.gradient_alignment,
        )
        check_option(
            0.0 <= self.augment_stripes <= 1.0,
            "augment-stripes",
            "must be a share in [0, 1]",
            self.augment_stripes,
        )
        check_option(
            self.augment_input or self.augment_stripes == 0.0,
            "augment-stripes",
            "needs --augment-input",
            self.augment_stripes,
        )
        check_option(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)", self.dropout)
        check_option(self.weight_decay >= 0, "weight-decay", "must be >= 0", self.weight_decay)
        minimum = 2 ** (self.stages + 1)
        check_option(
            self.size >= minimum,
            "size",
            f"must be >= {minimum} for {self.stages} stages",
            self.size,
        )

    @property
    def architecture_kwargs(self) -> dict[str, Any]:
        return {
            "in_channels": 1,
            "base_width": self.width,
            "n_stages": self.stages,
            "feature_dim": self.feature_dim,
            "dropout": self.dropout,
        }


#: The architecture options that decide the weights' names and shapes (dropout and the decision
#: offset do not), with the words that name them to the user.
_WEIGHT_SHAPING = {
    "in_channels": "input channels",
    "base_width": "--width",
    "n_stages": "--stages",
    "feature_dim": "--feature-dim",
}


def initial_weights(bundle: Path, config: ClassifierConfig) -> dict[str, torch.Tensor]:
    """The weights of the classifier bundle ``bundle``, to start ``config``'s run (fine-tuning);
    InputError when it is not a classifier bundle or its network has another shape.

    The bundle's operating point (``decision_offset``) is not carried over: it belongs to the
    old weights.
    """
    from engine.models import load_bundle

    try:
        loaded = load_bundle(bundle, expected_architecture=Architecture.CLASSIFIER)
    except ModelError as error:
        raise InputError(f"--init-from {bundle.name}: {error}") from None
    # A bundle's config may leave arguments at the network's defaults.
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(ClassifierNet).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    theirs = {**defaults, **loaded.config.architecture_kwargs}
    ours = config.architecture_kwargs
    different = [key for key in _WEIGHT_SHAPING if theirs.get(key) != ours[key]]
    if different:
        named = ", ".join(
            f"{_WEIGHT_SHAPING[key]} {theirs.get(key)} (this run: {ours[key]})" for key in different
        )
        raise InputError(f"--init-from {bundle.name} was trained with {named}; pass the same")
    return dict(loaded.module.state_dict())


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tie correction); None with one class only."""
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_scores = s[order]
    # average ranks of ties (1-based)
    start = 0
    while start < len(s):
        stop = start
        while stop + 1 < len(s) and sorted_scores[stop + 1] == sorted_scores[start]:
            stop += 1
        ranks[order[start : stop + 1]] = (start + stop) / 2.0 + 1.0
        start = stop + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


class ClassifierTask(SupervisedTask):
    config_type = ClassifierConfig
    network_name = "classifier"

    loss_names: tuple[str, ...] = ("loss",)

    def __init__(self, config: ClassifierConfig, runtime: Runtime, data: PreparedData) -> None:
        if config.gradient_alignment > 0 and runtime.distributed:
            # The term differentiates the bare network twice; a data-parallel wrapper would
            # not all-reduce those weight gradients.
            raise InputError("--gradient-alignment runs in one process only")
        self.clf_config = config
        self.input_variations = InputAugmentation().with_stripes(config.augment_stripes)
        super().__init__(config, runtime, data, weight_decay=config.weight_decay)
        # Each training image's twin index (-1: none); only the alignment term reads them.
        self.twins = np.full(len(self.train_set), -1, dtype=np.int64)
        if config.gradient_alignment > 0:
            self.twins = twin_indices(self.train_set.samples, DISEASED)
            self.loss_names = ("loss", "alignment")
            if not (self.twins >= 0).any():
                raise InputError(
                    "--gradient-alignment needs paired training images (one id in both "
                    "class folders, e.g. `cxr-explain phantoms --paired`); none are"
                )

    @classmethod
    def check_before_data(cls, config: TrainConfig) -> None:
        if isinstance(config, ClassifierConfig) and config.init_from is not None:
            initial_weights(config.init_from, config)

    def build_network(self) -> nn.Module:
        network = ClassifierNet(**self.clf_config.architecture_kwargs)
        if self.clf_config.init_from is not None:
            network.load_state_dict(initial_weights(self.clf_config.init_from, self.clf_config))
        return network

    def lr_factor(self, epoch: int) -> float:
        if self.clf_config.lr_schedule == "cosine":
            return cosine_lr_factor(epoch, self.clf_config.epochs)
        return 1.0

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = np.asarray(indices, dtype=np.int64)
        train = self.train_set
        if self.clf_config.augment_input:
            whole = torch.from_numpy(train.whole[index])
            share = (
                torch.ones_like(whole)
                if train.shares is None or self.clf_config.lung_field is LungField.NONE
                else torch.from_numpy(train.shares[index])
            )
            inputs = self.input_variations.apply(whole, share)
        else:
            inputs = torch.from_numpy(train.images[index])
        (images,) = self.augment(inputs)
        labels = torch.from_numpy(self.train_set.labels[index]).float()
        return self.runtime.tensor(images), self.runtime.tensor(labels)

    def losses(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        config = self.clf_config
        weights = None
        if config.adversarial_radius > 0:
            attacked = adversarial(
                self._plain_logits,
                images,
                labels,
                config.adversarial_radius,
                config.adversarial_steps,
                config.adversarial_norm,
            )
            if config.adversarial_clean_share > 0:
                images, labels, weights = _with_clean(
                    images, attacked, labels, config.adversarial_clean_share
                )
            else:
                images = attacked
        # One forward pass over clean and attacked images together: a data-parallel wrapper
        # expects one forward per backward.
        with self.runtime.autocast():
            logits = self.wrapped(images)
        return {"loss": F.binary_cross_entropy_with_logits(logits.float(), labels, weight=weights)}

    def step_losses(
        self, indices: Sequence[int], inputs: torch.Tensor, targets: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        losses = self.losses(inputs, targets)
        weight = self.clf_config.gradient_alignment
        if weight <= 0:
            return losses
        paired = [index for index in indices if self.twins[index] >= 0]
        if not paired:
            return losses  # nothing to align; the log's alignment cell stays empty
        # The cached inputs, not the batch's augmented ones: a twin must differ from its
        # diseased image by the disease alone, and the variations are drawn per image.
        images = self.train_set.images
        # The gradient the term shapes is the one generators and explanations use: the eval-mode
        # network's (running BatchNorm statistics, no dropout). In train mode each image's
        # gradient would also flow through the statistics of this all-diseased sub-batch.
        training = self.network.training
        self.network.eval()
        try:
            term = alignment_loss(
                self._plain_logits,
                self.runtime.tensor(images[paired]),
                self.runtime.tensor(images[self.twins[paired]]),
            )
        finally:
            self.network.train(training)
        return {"loss": losses["loss"] + weight * term, "alignment": term}

    def _plain_logits(self, images: torch.Tensor) -> torch.Tensor:
        """The network's logits outside the data-parallel wrapper: the attack's gradients are
        the input's alone, so no weight gradients may be all-reduced for them."""
        with self.runtime.autocast():
            return self.network(images)

    def logits(self, images: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = []
        for start in range(0, len(images), 16):
            with self.runtime.autocast():
                logit = self.network(self.runtime.tensor(images[start : start + 16]))
            out.append(logit.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _train_batches(self) -> Iterator[torch.Tensor]:
        images = self.train_set.images
        for start in range(0, len(images), self.config.batch_size):
            yield self.runtime.tensor(images[start : start + self.config.batch_size])

    def evaluate(self) -> dict[str, Any]:
        test = self.test_set
        if not len(test):
            return {"test_auc": None, "test_accuracy": None, "test_loss": None, "test_images": 0}
        recalibrate_batchnorm(self.network, self._train_batches())
        logits = self.logits(test.images)
        labels = test.labels.astype(np.float32)
        loss = F.binary_cross_entropy_with_logits(
            torch.from_numpy(logits), torch.from_numpy(labels)
        )
        return {
            "test_auc": roc_auc(labels, logits),
            "test_accuracy": float(np.mean((logits > 0) == (labels > 0.5))),
            "test_loss": float(loss),
            "test_images": len(test),
        }

    def after_bundles(self, bundles: Sequence[Path]) -> None:
        """Store the feature density of the training images (the OOD score) with the bundle."""
        if not bundles or not len(self.train_set):
            return
        self.network.eval()
        train = self._features(self.train_set.images)
        density = fit_feature_density(train)
        extra: dict[str, Any] = {"data": self.clf_config.data.name}
        if len(self.test_set):
            flagged = density.scores(self._features(self.test_set.images)) > 1.0
            extra["test_images"] = len(self.test_set)
            extra["test_share_flagged"] = float(np.mean(flagged))
        save_feature_density(bundles[0], density, extra)

    def _features(self, images: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return network_features(self.network, images)

    def sample_rows(self) -> list[list[npt.NDArray[np.float32]]]:
        """Row 0: healthy inputs, row 1: pneumoconiosis inputs, as the classifier sees them."""
        source = self.test_set if len(self.test_set) else self.train_set
        rows = []
        for label in (0, 1):
            images = source.of_label(label).images[:4]
            rows.append([to_display(torch.from_numpy(image)) for image in images])
        return rows

    def bundles(self, metrics: Mapping[str, Any]) -> list[BundleSpec]:
        return [
            BundleSpec(
                model_id=self.clf_config.model_id,
                module=self.network,
                architecture=Architecture.CLASSIFIER,
                kwargs=self.clf_config.architecture_kwargs,
                description=(
                    "Chest X-ray classifier (the CNN being explained). Output: one logit; "
                    "sigmoid(logit) = probability of pneumoconiosis."
                ),
                value_ranges={"input": [-1, 1], "output": "logit"},
                metrics=metrics,
            )
        ]


def _with_clean(
    clean: torch.Tensor, attacked: torch.Tensor, labels: torch.Tensor, clean_share: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The clean and the attacked batch as one, with per-image BCE weights whose mean loss is
    ``clean_share`` times the clean images' mean plus the rest times the attacked ones'."""
    weights = torch.cat(
        [
            torch.full_like(labels, 2.0 * clean_share),
            torch.full_like(labels, 2.0 - 2.0 * clean_share),
        ]
    )
    return torch.cat([clean.detach(), attacked]), torch.cat([labels, labels]), weights
