"""How much of the lung texture a finding adds, against the texture healthy anatomy already has.

For phantoms of ``cxr-explain phantoms``' findings (contrast 1, no haze, profusion 1-3 in turn)
of one ILO type, each anatomy drawn healthy and diseased: the ROC AUC with which simple statistics
of the true lung field tell the diseased images from the healthy ones across anatomies. A
statistic that no classifier needs (the finding is known to be there), so it bounds nothing; it
shows which part of the image hides a finding: when lowering the detector noise leaves the
high-pass SD and its AUC where they were, the noise is not what hides it.

    .venv/bin/python benchmarks/measure_lung_texture.py --n 60
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter
from sklearn.metrics import roc_auc_score

from engine.phantoms.generate import generate_phantom
from engine.phantoms.params import DiseaseParams, IloType, PhantomParams

Image = npt.NDArray[np.float32]
# (label, phantom size, noise level, downsampling factor before the statistics)
CASES = (
    ("256 px", 256, 1.0, 1),
    ("256 px, noise 0.25", 256, 0.25, 1),
    ("1024 px averaged to 256", 1024, 1.0, 4),
    ("512 px", 512, 1.0, 1),
    ("1024 px", 1024, 1.0, 1),
)


def statistics(image: Image, lungs: npt.NDArray[np.bool_]) -> tuple[float, float, float]:
    """High-pass SD (minus a 1.5 px Gaussian), band-pass SD (1-3 px) and mean, inside the lungs."""
    high = image - gaussian_filter(image, 1.5)
    band = gaussian_filter(image, 1.0) - gaussian_filter(image, 3.0)
    return float(high[lungs].std()), float(band[lungs].std()), float(image[lungs].mean())


def block_mean(image: Image, factor: int) -> Image:
    """Means of ``factor`` x ``factor`` blocks (factor 1: the image itself)."""
    side = image.shape[0] // factor
    return image.reshape(side, factor, side, factor).mean(axis=(1, 3))


def measure(
    n: int, size: int, noise: float, factor: int, kind: IloType
) -> tuple[list[float], float]:
    """AUCs of the three statistics and the mean healthy high-pass SD over ``n`` anatomies."""
    healthy, diseased = [], []
    for index in range(n):
        disease = DiseaseParams(profusion=1 + index % 3, opacity_type=kind)
        params = PhantomParams(seed=1000 + index, size=size, noise_level=noise, disease=disease)
        phantom = generate_phantom(params)
        lungs = (phantom.lung_left | phantom.lung_right).astype(np.float32)
        inside = block_mean(lungs, factor) > 0.99
        healthy.append(statistics(block_mean(phantom.healthy_image, factor), inside))
        diseased.append(statistics(block_mean(phantom.image, factor), inside))
    scores = np.asarray(healthy + diseased)
    labels = np.r_[np.zeros(n), np.ones(n)]
    aucs = [float(roc_auc_score(labels, scores[:, k])) for k in range(3)]
    return aucs, float(np.mean(scores[:n, 0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="anatomies per type and case")
    args = parser.parse_args()
    print("| image | type | AUC high-pass SD | AUC band-pass SD | AUC mean | healthy SD |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for label, size, noise, factor in CASES:
        for kind in (IloType.P, IloType.Q):
            aucs, sd = measure(args.n, size, noise, factor, kind)
            print(
                f"| {label} | {kind.value} | {aucs[0]:.2f} | {aucs[1]:.2f} | {aucs[2]:.2f} "
                f"| {sd:.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
