"""The networks of cxr-explain, one per module, and the explicit registry the model bundles use.

=========================  =====================================  ================================
:class:`Architecture`      class                                  role
=========================  =====================================  ================================
``unet``                   :class:`~engine.networks.unet.UNet`    lung-field segmentation
``generator``              :class:`CycleGANGenerator`             CycleGAN translation (Table 1)
``constrained_generator``  :class:`ConstrainedGenerator`          additive change inside the lungs
``discriminator_paper``    :class:`PaperDiscriminator`            CycleGAN critic (Table 2)
``patchgan``               :class:`PatchGANDiscriminator`         70 x 70 PatchGAN critic
``classifier``             :class:`ClassifierNet`                 the CNN being explained
``figan_generator``        :class:`ConditionalGenerator`          FIGAN (PLS scores, noise) -> image
``figan_discriminator``    :class:`ProjectionDiscriminator`       FIGAN conditional critic
=========================  =====================================  ================================

All take keyword-only, typed constructor arguments and raise ``ValueError`` naming a bad one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from torch import nn

from engine.networks.attention import AttentionMode, SelfAttention2d, chunked_attention
from engine.networks.classifier import LABELS as CLASSIFIER_LABELS
from engine.networks.classifier import ClassifierNet
from engine.networks.conditional_generator import ConditionalGenerator
from engine.networks.constrained_generator import ConstrainedGenerator
from engine.networks.discriminator import DiscriminatorKind, PaperDiscriminator
from engine.networks.generator import CycleGANGenerator, Upsampling
from engine.networks.patchgan import PatchGANDiscriminator
from engine.networks.projection_discriminator import ProjectionDiscriminator
from engine.networks.unet import UNet


class Architecture(StrEnum):
    """The architectures a model bundle can name (``config.json`` ``architecture``)."""

    UNET = "unet"
    GENERATOR = "generator"
    CONSTRAINED_GENERATOR = "constrained_generator"
    DISCRIMINATOR_PAPER = "discriminator_paper"
    PATCHGAN = "patchgan"
    CLASSIFIER = "classifier"
    FIGAN_GENERATOR = "figan_generator"
    FIGAN_DISCRIMINATOR = "figan_discriminator"


#: Architecture -> constructor. The only way a bundle's architecture becomes a class.
ARCHITECTURES: Mapping[Architecture, type[nn.Module]] = MappingProxyType(
    {
        Architecture.UNET: UNet,
        Architecture.GENERATOR: CycleGANGenerator,
        Architecture.CONSTRAINED_GENERATOR: ConstrainedGenerator,
        Architecture.DISCRIMINATOR_PAPER: PaperDiscriminator,
        Architecture.PATCHGAN: PatchGANDiscriminator,
        Architecture.CLASSIFIER: ClassifierNet,
        Architecture.FIGAN_GENERATOR: ConditionalGenerator,
        Architecture.FIGAN_DISCRIMINATOR: ProjectionDiscriminator,
    }
)

#: DiscriminatorKind -> the Architecture that implements it.
DISCRIMINATOR_ARCHITECTURES: Mapping[DiscriminatorKind, Architecture] = MappingProxyType(
    {
        DiscriminatorKind.PAPER: Architecture.DISCRIMINATOR_PAPER,
        DiscriminatorKind.PATCHGAN: Architecture.PATCHGAN,
    }
)


def build_network(
    architecture: Architecture | str, kwargs: Mapping[str, Any] | None = None
) -> nn.Module:
    """Construct ``architecture`` with keyword arguments ``kwargs``.

    Raises ``ValueError`` for an unknown architecture, an unknown argument or a bad value.
    """
    try:
        key = Architecture(architecture)
    except ValueError:
        raise ValueError(
            f"architecture must be one of {[a.value for a in Architecture]}, got {architecture!r}"
        ) from None
    try:
        return ARCHITECTURES[key](**dict(kwargs or {}))
    except TypeError as error:  # unknown or positional argument
        raise ValueError(f"bad arguments for architecture {key.value!r}: {error}") from None


def architecture_of(module: nn.Module) -> Architecture:
    """The registered architecture whose class ``module`` is exactly; ``ValueError`` otherwise."""
    for architecture, cls in ARCHITECTURES.items():
        if type(module) is cls:
            return architecture
    raise ValueError(f"{type(module).__name__} is not a registered architecture")


__all__ = [
    "ARCHITECTURES",
    "CLASSIFIER_LABELS",
    "DISCRIMINATOR_ARCHITECTURES",
    "Architecture",
    "AttentionMode",
    "ClassifierNet",
    "ConditionalGenerator",
    "ConstrainedGenerator",
    "CycleGANGenerator",
    "DiscriminatorKind",
    "PaperDiscriminator",
    "PatchGANDiscriminator",
    "ProjectionDiscriminator",
    "SelfAttention2d",
    "UNet",
    "Upsampling",
    "architecture_of",
    "build_network",
    "chunked_attention",
]
