"""Argument checks for the network constructors (MONAI style: fail at once, name the argument)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

import torch

E = TypeVar("E", bound=StrEnum)


def positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) ``>= minimum``; else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def probability(name: str, value: object) -> float:
    """Return ``value`` as a float in ``[0, 1)``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a float, got {type(value).__name__} {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def flag(name: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool``, else raise ``ValueError``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def image_batch(
    x: torch.Tensor, *, channels: int, multiple: int = 1, minimum: int = 1, network: str
) -> None:
    """Check ``x`` is ``(B, channels, H, W)``, H and W multiples of ``multiple``, >= ``minimum``.

    Raises ``ValueError`` with the network's name and the offending shape.
    """
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(
            f"{network} expects input of shape (B, {channels}, H, W), got {tuple(x.shape)}"
        )
    height, width = int(x.shape[2]), int(x.shape[3])
    if height % multiple or width % multiple or min(height, width) < minimum:
        raise ValueError(
            f"{network} needs H and W divisible by {multiple} and at least {minimum}, "
            f"got {height}x{width}"
        )


def choice(name: str, value: object, enum: type[E]) -> E:
    """Return ``value`` as a member of ``enum``, else raise ``ValueError`` naming ``name``."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return enum(value)
    except ValueError:
        raise ValueError(
            f"{name} must be one of {[member.value for member in enum]}, got {value!r}"
        ) from None
