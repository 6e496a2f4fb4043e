"""Generate one phantom: anatomy -> foreign objects -> disease -> detector.

Pipeline (all float32, vectorised):

1. ``density`` (D units) from :func:`render_anatomy`, plus foreign-object metal.
2. ``healthy_clean = tone(density) + heel``; ``diseased_clean = tone(density + lesion) + heel``.
3. One noise field, computed from ``healthy_clean``, is added to both, then the detector blur:
   ``healthy = blur(healthy_clean + noise)``, ``image = healthy + blur(diseased_clean -
   healthy_clean)``. The blur is linear, so the disease's added intensity is the same with or
   without noise; ``lesion_map = image - healthy_image`` after clipping to [0, 1].

Each part draws from its own stream of ``SeedSequence(seed)``, so the disease switch leaves the
anatomy, exposure and noise untouched: the healthy image of a diseased phantom is bit-identical
to the phantom generated with the disease off.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.phantoms.anatomy import Anatomy, render_anatomy
from engine.phantoms.detector import (
    Exposure,
    blur_sigma_px,
    detect,
    heel_gradient,
    noise_field,
    tone,
)
from engine.phantoms.disease import render_disease
from engine.phantoms.foreign import FOREIGN_MASK_THRESHOLD, render_foreign
from engine.phantoms.params import DiseaseParams, Phantom, PhantomParams
from engine.types import readonly

_STREAMS = ("anatomy", "vessels", "exposure", "noise", "disease", "foreign")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {
        name: np.random.default_rng(child) for name, child in zip(_STREAMS, children, strict=True)
    }


def _lung_box(lungs: npt.NDArray[np.bool_], margin: int) -> tuple[slice, slice]:
    rows = np.flatnonzero(lungs.any(axis=1))
    cols = np.flatnonzero(lungs.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    size = lungs.shape[0]
    return (
        slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + margin + 1, size)),
        slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + margin + 1, size)),
    )


def generate_phantom(params: PhantomParams) -> Phantom:
    """Render one phantom with its ground truth (deterministic for ``params``)."""
    rngs = _streams(params.seed)
    size = params.size
    spacing = params.resolved_spacing_mm
    anatomy = Anatomy.sample(rngs["anatomy"], params.breast_shadows)
    rendered = render_anatomy(anatomy, size, spacing, rngs["vessels"])
    density = rendered.density
    foreign = render_foreign(params.foreign_objects, anatomy, size, spacing, rngs["foreign"])
    if params.foreign_objects:
        density = density + foreign
    exposure = Exposure.sample(rngs["exposure"], params.exposure_variation)
    heel = heel_gradient(size, exposure)
    healthy_clean = tone(density, exposure) + heel
    noise = noise_field(healthy_clean, rngs["noise"], params.noise_level)
    sigma = blur_sigma_px(spacing) if params.detector_blur else 0.0
    healthy = detect(healthy_clean + noise, sigma)
    opacities = np.zeros((0, 3), dtype=np.float32)
    if params.disease.is_diseased:
        lesion_density, opacities = render_disease(
            rendered, params.disease, rngs["disease"], spacing, anatomy.lung_depth
        )
        # The lesion lies inside the lungs: tone and blur only the lungs' bounding box.
        box = _lung_box(rendered.lung_right | rendered.lung_left, margin=int(3 * sigma) + 3)
        added = tone(density[box] + lesion_density[box], exposure)
        added -= healthy_clean[box] - heel[box[0]]
        image = healthy.copy()
        image[box] += detect(added, sigma)
        np.clip(image, 0.0, 1.0, out=image)
        healthy = np.clip(healthy, 0.0, 1.0)
        lesion_map = image - healthy
    else:
        healthy = np.clip(healthy, 0.0, 1.0)
        image = healthy
        lesion_map = np.zeros_like(healthy)
    return Phantom(
        image=readonly(image.astype(np.float32, copy=False)),
        healthy_image=readonly(healthy.astype(np.float32, copy=False)),
        lesion_map=readonly(lesion_map.astype(np.float32, copy=False)),
        lung_left=readonly(rendered.lung_left),
        lung_right=readonly(rendered.lung_right),
        zones=readonly(rendered.zones),
        regions=readonly(rendered.regions),
        foreign_mask=readonly(foreign > FOREIGN_MASK_THRESHOLD),
        opacities=readonly(opacities),
        params=params,
        label=params.label,
        spacing_mm=spacing,
    )


def generate_pair(seed: int, disease: DiseaseParams, size: int = 512, **options: object) -> Phantom:
    """A diseased phantom whose ``healthy_image`` is the same anatomy without disease.

    ``options`` are further :class:`PhantomParams` fields (``noise_level``, ``foreign_objects``...).
    """
    return generate_phantom(PhantomParams(seed=seed, size=size, disease=disease, **options))  # type: ignore[arg-type]
