"""What sets a phantom apart from a plain anatomy in the population users meet: foreign objects
(ECG leads, wires, a pacemaker) and breast shadows, each with its own chance, and the detector
noise (a level drawn per anatomy where a range is asked for; the documented level 1 otherwise).

One draw, shared by ``cxr-explain phantoms`` (engine.phantoms.dataset), the operating-point
calibration (engine.explain.operating_point), ``cxr-explain validate``, the CI guard of the
shipped models and the training recipe (engine.training.defaults_data, where the chances are 0
in the shipped recipe), so all of them mean the same thing by "devices 0.1, breasts 0.3".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.phantoms.params import ForeignObject

#: The chances ``cxr-explain phantoms`` draws by default.
FOREIGN_OBJECT_PROBABILITY = 0.1
BREAST_PROBABILITY = 0.3


@dataclass(frozen=True, slots=True)
class PopulationExtras:
    """The extras of one phantom: pass ``as_options()`` to ``PhantomParams`` / ``generate_pair``."""

    foreign_objects: frozenset[ForeignObject] = frozenset()
    breast_shadows: bool = False
    noise_level: float = 1.0

    def as_options(self) -> dict[str, object]:
        return {
            "foreign_objects": self.foreign_objects,
            "breast_shadows": self.breast_shadows,
            "noise_level": self.noise_level,
        }


def draw_extras(
    rng: np.random.Generator,
    foreign_object_probability: float = FOREIGN_OBJECT_PROBABILITY,
    breast_probability: float = BREAST_PROBABILITY,
) -> PopulationExtras:
    """Devices first (one or two kinds), then breast shadows, from ``rng`` in that order."""
    objects: frozenset[ForeignObject] = frozenset()
    if rng.random() < foreign_object_probability:
        pool = list(ForeignObject)
        chosen = rng.choice(len(pool), size=int(rng.integers(1, 3)), replace=False)
        objects = frozenset(pool[int(i)] for i in chosen)
    breasts = bool(rng.random() < breast_probability)
    return PopulationExtras(foreign_objects=objects, breast_shadows=breasts)


def extras_for_seed(
    anatomy_seed: int,
    foreign_object_probability: float = FOREIGN_OBJECT_PROBABILITY,
    breast_probability: float = BREAST_PROBABILITY,
    noise_levels: tuple[float, float] = (1.0, 1.0),
) -> PopulationExtras:
    """The extras of the anatomy with this seed, from a stream of their own (``[seed, 1]``): the
    anatomy and any finding drawn elsewhere are the same with or without them. The noise level
    comes from a third stream (``[seed, 2]``), so asking for a range leaves the devices and
    breast shadows of every anatomy as they were."""
    rng = np.random.default_rng([anatomy_seed, 1])
    extras = draw_extras(rng, foreign_object_probability, breast_probability)
    level = noise_level_for_seed(anatomy_seed, noise_levels)
    return replace(extras, noise_level=level)


def noise_level_for_seed(anatomy_seed: int, noise_levels: tuple[float, float]) -> float:
    """A level log-uniform in ``noise_levels`` (low, high): as many anatomies at half the noise
    as at double it. ``low == high``: that level, nothing drawn."""
    low, high = noise_levels
    if not 0.0 < low <= high:
        raise ValueError(f"noise levels must satisfy 0 < low <= high, got {noise_levels}")
    if low == high:
        return low
    rng = np.random.default_rng([anatomy_seed, 2])
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))
