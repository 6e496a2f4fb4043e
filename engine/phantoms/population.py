"""What sets a phantom apart from a plain anatomy in the population users meet: foreign objects
(ECG leads, wires, a pacemaker) and breast shadows, each with its own chance.

One draw, shared by ``cxr-explain phantoms`` (engine.phantoms.dataset), the operating-point
calibration (engine.explain.operating_point), ``cxr-explain validate``, the CI guard of the
shipped models and the training recipe (engine.training.defaults_data, where the chances are 0
in the shipped recipe), so all of them mean the same thing by "devices 0.1, breasts 0.3".
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def as_options(self) -> dict[str, object]:
        return {"foreign_objects": self.foreign_objects, "breast_shadows": self.breast_shadows}


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
) -> PopulationExtras:
    """The extras of the anatomy with this seed, from a stream of their own (``[seed, 1]``): the
    anatomy and any finding drawn elsewhere are the same with or without them."""
    rng = np.random.default_rng([anatomy_seed, 1])
    return draw_extras(rng, foreign_object_probability, breast_probability)
