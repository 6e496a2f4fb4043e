"""What a CycleGAN run is configured by: :class:`CycleGANConfig` and the named presets.

The defaults are the paper's training schedule (700 epochs, batch 1, Adam 2e-4, beta1 0.5) with
narrower networks for CPUs; ``--preset paper`` (:data:`PRESETS`) sets the paper's networks too.
The losses and metrics these options steer are described in :mod:`engine.training.cyclegan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from engine.errors import InputError
from engine.networks import (
    DISCRIMINATOR_ARCHITECTURES,
    Architecture,
    DiscriminatorKind,
    Upsampling,
)
from engine.training.config import (
    ModelKind,
    TrainConfig,
    check_at_least,
    check_option,
    check_whole,
    coerce_choice,
    coerce_path_tuple,
    coerce_paths,
)


class GeneratorKind(StrEnum):
    """Which generator translates: the paper's (Table 1), or the constrained one (an additive
    change inside the lung field: engine.networks.constrained_generator)."""

    PAPER = "paper"
    CONSTRAINED = "constrained"


class ChangeSign(StrEnum):
    """The sign of the constrained generator's change: either way, or the direction's (toward
    disease only brighter, toward healthy only darker: opacities attenuate)."""

    FREE = "free"
    DIRECTIONAL = "directional"


class Preset(StrEnum):
    """Named option sets for ``cxr-explain train cyclegan --preset``."""

    PAPER = "paper"


#: The paper's configuration (Table 1 and 2, section 2): 512 px, 64-wide networks, 9 residual
#: blocks and one attention layer, the VGG-like discriminator, batch 1, 700 epochs, Adam 2e-4
#: (beta1 0.5, the reference CycleGAN's), the standard losses and no extras. Options given after
#: ``--preset`` override these.
PRESETS: Mapping[Preset, Mapping[str, Any]] = MappingProxyType(
    {
        Preset.PAPER: MappingProxyType(
            {
                "size": 512,
                "ngf": 64,
                "ndf": 64,
                "residual_blocks": 9,
                "attention": True,
                "discriminator": DiscriminatorKind.PAPER,
                "batch_size": 1,
                "epochs": 700,
                "lr": 2e-4,
                "beta1": 0.5,
                "beta2": 0.999,
                "cycle_weight": 10.0,
                "identity_weight": 0.5,
                "pool_size": 50,
                "classifier_guidance": 0.0,
                "mask_consistency": 0.0,
            }
        )
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleGANConfig(TrainConfig):
    """CycleGAN options; the training defaults are the paper's (700 epochs, batch 1, Adam 2e-4).

    ``ngf`` / ``ndf``: first-layer width of generators / discriminators (paper: 64 / 64; the
    shipped default is 16 for CPUs). ``decay_epochs``: epochs of linear learning-rate decay at
    the end (None: half of ``epochs``). ``classifier``: a classifier bundle folder, used for the
    flip-rate metric and, with ``classifier_guidance > 0``, for the guidance loss.
    """

    KIND: ClassVar[ModelKind] = ModelKind.CYCLEGAN

    epochs: int = 700
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    ngf: int = 16
    ndf: int = 16
    residual_blocks: int = 9
    attention: bool = True
    discriminator: DiscriminatorKind = DiscriminatorKind.PAPER
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    pool_size: int = 50
    decay_epochs: int | None = None
    classifier: Path | None = None
    classifier_guidance: float = 0.0
    mask_consistency: float = 0.0
    guidance_margin: float | None = None
    guidance_on_composite: bool = False
    generator: GeneratorKind = GeneratorKind.PAPER
    max_change: float = 1.0
    sparsity_weight: float = 0.0
    upsampling: Upsampling = Upsampling.TRANSPOSE
    smoothness_weight: float = 0.0
    change_sign: ChangeSign = ChangeSign.FREE
    edit_margin: int = 0
    extra_guides: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        TrainConfig.__post_init__(self)
        coerce_choice(self, "discriminator", DiscriminatorKind)
        coerce_paths(self, "classifier")
        coerce_path_tuple(self, "extra_guides")
        coerce_choice(self, "generator", GeneratorKind)
        coerce_choice(self, "upsampling", Upsampling)
        coerce_choice(self, "change_sign", ChangeSign)
        if (
            self.change_sign is not ChangeSign.FREE
            and self.generator is not GeneratorKind.CONSTRAINED
        ):
            raise InputError("--change-sign directional needs --generator constrained")
        if self.edit_margin and self.generator is not GeneratorKind.CONSTRAINED:
            raise InputError("--edit-margin needs --generator constrained")
        check_option(0 < self.max_change <= 2, "max-change", "must be in (0, 2]", self.max_change)
        check_whole(self, 1, "ngf", "ndf", "residual_blocks")
        check_whole(self, 0, "pool_size", "edit_margin")
        check_at_least(
            self,
            0,
            "sparsity_weight",
            "smoothness_weight",
            "cycle_weight",
            "identity_weight",
            "classifier_guidance",
            "mask_consistency",
        )
        if self.decay_epochs is not None:
            check_option(
                0 <= self.decay_epochs <= self.epochs,
                "decay-epochs",
                f"must be in [0, epochs = {self.epochs}]",
                self.decay_epochs,
            )
        multiple, minimum = (16, 48) if self.discriminator is DiscriminatorKind.PAPER else (8, 24)
        check_option(
            self.size % multiple == 0 and self.size >= minimum,
            "size",
            f"must be a multiple of {multiple} and >= {minimum} for the "
            f"{self.discriminator.value} discriminator",
            self.size,
        )
        if self.classifier_guidance > 0 and self.classifier is None:
            raise InputError("--classifier-guidance needs --classifier BUNDLE_DIR")
        if self.extra_guides and self.classifier_guidance <= 0:
            raise InputError("--extra-guides needs --classifier-guidance > 0 and --classifier")
        if self.guidance_margin is not None:
            check_option(
                self.guidance_margin >= 0, "guidance-margin", "must be >= 0", self.guidance_margin
            )
        if self.guidance_on_composite:
            if self.classifier is None:
                raise InputError("--guidance-on-composite needs --classifier BUNDLE_DIR")
            check_option(
                self.augment_shift == 0,
                "augment-shift",
                "must be 0 with --guidance-on-composite (the two resolutions must line up)",
                self.augment_shift,
            )

    @property
    def generator_architecture(self) -> Architecture:
        if self.generator is GeneratorKind.CONSTRAINED:
            return Architecture.CONSTRAINED_GENERATOR
        return Architecture.GENERATOR

    def generator_kwargs_toward(self, *, disease: bool) -> dict[str, Any]:
        """The kwargs of the generator toward disease (``disease``) or toward healthy: with a
        directional sign the first may only brighten and the second only darken."""
        kwargs = self.generator_kwargs
        if self.change_sign is ChangeSign.DIRECTIONAL:
            return {**kwargs, "sign": 1 if disease else -1}
        return kwargs

    @property
    def generator_kwargs(self) -> dict[str, Any]:
        """The kwargs both generators share."""
        kwargs: dict[str, Any] = {
            "base_width": self.ngf,
            "n_residual_blocks": self.residual_blocks,
            "attention": self.attention,
        }
        if self.upsampling is not Upsampling.TRANSPOSE:  # the paper's stays unrecorded, as before
            kwargs["upsampling"] = self.upsampling.value
        if self.generator is GeneratorKind.CONSTRAINED:
            kwargs["max_change"] = self.max_change
            if self.edit_margin:  # bundles without a margin stay as they were
                kwargs["edit_margin"] = self.edit_margin
            return kwargs
        return {"in_channels": 1, "out_channels": 1, **kwargs}

    @property
    def discriminator_architecture(self) -> Architecture:
        return DISCRIMINATOR_ARCHITECTURES[self.discriminator]

    @property
    def discriminator_kwargs(self) -> dict[str, Any]:
        return {"in_channels": 1, "base_width": self.ndf}

    @property
    def resolved_decay_epochs(self) -> int:
        return self.epochs // 2 if self.decay_epochs is None else self.decay_epochs
