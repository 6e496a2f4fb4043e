"""Phantom generator: determinism, ground truth against pixels, ILO sizes, realism ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.blur import gaussian_blur
from engine.phantoms import (
    ILO_SIZE_MM,
    DiseaseParams,
    ForeignObject,
    IloType,
    Label,
    LargeOpacity,
    PhantomParams,
    Region,
    generate_phantom,
)
from engine.phantoms.disease import sample_diameters
from engine.phantoms.raster import draw_spheres

SIZE = 96


def _phantom(seed: int = 3, size: int = SIZE, **kwargs: object):
    return generate_phantom(PhantomParams(seed=seed, size=size, **kwargs))  # type: ignore[arg-type]


def test_same_seed_gives_identical_bytes() -> None:
    disease = DiseaseParams(profusion=2, haze=0.1)
    first = _phantom(seed=11, disease=disease)
    second = _phantom(seed=11, disease=disease)
    for name in ("image", "healthy_image", "lesion_map", "lung_left", "lung_right", "zones"):
        assert getattr(first, name).tobytes() == getattr(second, name).tobytes(), name


def test_different_seeds_give_different_anatomy() -> None:
    first, second = _phantom(seed=1), _phantom(seed=2)
    assert not np.array_equal(first.lungs, second.lungs)
    assert np.abs(first.healthy_image - second.healthy_image).mean() > 0.01


def test_results_are_read_only_and_typed() -> None:
    phantom = _phantom(disease=DiseaseParams(profusion=1))
    assert phantom.image.dtype == np.float32
    assert phantom.image.shape == (SIZE, SIZE)
    assert phantom.zones.dtype == np.uint8
    assert phantom.lung_left.dtype == np.bool_
    assert phantom.image.min() >= 0.0
    assert phantom.image.max() <= 1.0
    with pytest.raises(ValueError, match="read-only"):
        phantom.image[0, 0] = 1.0
    assert phantom.label is Label.PNEUMOCONIOSIS
    assert _phantom().label is Label.HEALTHY
    assert phantom.spacing_mm == pytest.approx(400.0 / SIZE)


def test_lesion_map_is_diseased_minus_healthy_with_shared_noise() -> None:
    disease = DiseaseParams(profusion=3, opacity_type=IloType.R, haze=0.1)
    noisy = _phantom(disease=disease)
    assert np.array_equal(noisy.image - noisy.healthy_image, noisy.lesion_map)
    assert noisy.lesion_map.max() > 0.02
    # The noise is shared, so the lesion map is the same as without any noise (before noise).
    clean = _phantom(disease=disease, noise_level=0.0)
    np.testing.assert_allclose(noisy.lesion_map, clean.lesion_map, atol=2e-6)
    # The healthy partner is bit-identical to the same seed generated without disease.
    healthy = _phantom()
    assert np.array_equal(noisy.healthy_image, healthy.image)


def test_lesion_lies_inside_the_lungs() -> None:
    phantom = _phantom(size=128, disease=DiseaseParams(profusion=3, haze=0.1))
    lungs = phantom.lungs
    grown = lungs.copy()
    for _ in range(3):  # the detector blur spreads the lesion by ~1 px
        grown |= np.roll(grown, 1, 0) | np.roll(grown, -1, 0)
        grown |= np.roll(grown, 1, 1) | np.roll(grown, -1, 1)
    total = np.abs(phantom.lesion_map).sum()
    assert np.abs(phantom.lesion_map[grown]).sum() >= 0.999 * total
    assert phantom.lesion_map.min() >= -1e-6  # the disease only adds density


def test_masks_cover_the_dark_lung_fields() -> None:
    phantom = _phantom(size=128)
    image, lungs = phantom.image, phantom.lungs
    assert 0.15 < lungs.mean() < 0.45
    assert not np.any(phantom.lung_left & phantom.lung_right)
    # radiological convention: the patient's right lung lies on the image left
    cols = np.arange(128)
    assert (
        cols[phantom.lung_right.any(axis=0)].mean()
        < 64
        < cols[phantom.lung_left.any(axis=0)].mean()
    )
    # the masks end where the dark lung field ends: a 3 px ring around them is much brighter
    grown = lungs.copy()
    for _ in range(3):
        grown |= np.roll(grown, 1, 0) | np.roll(grown, -1, 0)
        grown |= np.roll(grown, 1, 1) | np.roll(grown, -1, 1)
    ring = grown & ~lungs
    assert image[ring].mean() > image[lungs].mean() + 0.1


def test_zones_split_each_lung_in_thirds() -> None:
    phantom = _phantom(size=128)
    assert set(np.unique(phantom.zones)) == {0, 1, 2, 3}
    assert np.array_equal(phantom.zones > 0, phantom.lungs)
    for lung in (phantom.lung_left, phantom.lung_right):
        rows = np.flatnonzero(lung.any(axis=1))
        zone_rows = [np.flatnonzero((phantom.zones * lung == z).any(axis=1)) for z in (1, 2, 3)]
        assert zone_rows[0].max() < zone_rows[1].min() <= zone_rows[1].max() < zone_rows[2].min()
        heights = [r.size for r in zone_rows]
        assert max(heights) - min(heights) <= 2
        assert sum(heights) == rows.size


def test_upper_zone_predominance_by_default() -> None:
    phantom = _phantom(size=128, disease=DiseaseParams(profusion=3, opacity_type=IloType.R))
    zone_of = phantom.zones[
        phantom.opacities[:, 0].astype(int), phantom.opacities[:, 1].astype(int)
    ]
    area = [np.count_nonzero(phantom.zones == z) for z in (1, 2, 3)]
    density = [np.count_nonzero(zone_of == z) / area[z - 1] for z in (1, 2, 3)]
    assert density[0] > density[1] > density[2]


def test_zone_weights_select_one_lung_and_zone() -> None:
    weights = ((0.0, 0.0, 1.0), (0.0, 0.0, 0.0))  # right lower zone only
    phantom = _phantom(size=128, disease=DiseaseParams(profusion=2, zone_weights=weights))
    rows, cols = phantom.opacities[:, 0].astype(int), phantom.opacities[:, 1].astype(int)
    assert rows.size > 0
    assert np.all(phantom.lung_right[rows, cols])
    assert np.all(phantom.zones[rows, cols] == 3)


@pytest.mark.parametrize("opacity_type", list(IloType))
def test_opacity_diameters_follow_ilo_size_classes(opacity_type: IloType) -> None:
    low, high = ILO_SIZE_MM[opacity_type]
    diameters = sample_diameters(np.random.default_rng(0), opacity_type, 2000)
    assert diameters.min() >= low
    assert diameters.max() <= high
    phantom = _phantom(size=128, disease=DiseaseParams(profusion=2, opacity_type=opacity_type))
    drawn = phantom.opacities[:, 2]
    assert drawn.size > 0
    assert drawn.min() >= low - 1e-5
    assert drawn.max() <= high + 1e-5


@pytest.mark.parametrize(("diameter_mm", "spacing_mm"), [(8.0, 0.4), (5.0, 0.5), (2.5, 0.2)])
def test_rendered_opacity_width_matches_diameter_at_spacing(
    diameter_mm: float, spacing_mm: float
) -> None:
    canvas = np.zeros((64, 64), dtype=np.float32)
    radius_px = diameter_mm / 2 / spacing_mm
    draw_spheres(canvas, np.array([32.0]), np.array([32.0]), np.array([radius_px]), 1.0)
    width_px = np.count_nonzero(canvas[32] > 0)
    assert width_px * spacing_mm == pytest.approx(diameter_mm, abs=2 * spacing_mm)
    # projected sphere volume (in px^3) is (4/3) pi r^3
    assert canvas.sum() == pytest.approx(4 / 3 * math.pi * radius_px**3, rel=0.05)


def test_sub_pixel_opacities_keep_their_integrated_density() -> None:
    canvas = np.zeros((16, 16), dtype=np.float32)
    radius_px = 0.3  # a p-type opacity at a coarse spacing
    draw_spheres(canvas, np.array([8.0]), np.array([8.0]), np.array([radius_px]), 1.0)
    assert canvas.sum() == pytest.approx(4 / 3 * math.pi * radius_px**3, rel=0.1)
    assert 0 < canvas.max() < 2 * radius_px  # a faint blob


def test_higher_profusion_adds_more_opacities_and_intensity() -> None:
    counts, added = [], []
    for profusion in (0, 1, 2, 3):
        phantom = _phantom(seed=5, size=128, disease=DiseaseParams(profusion=profusion))
        counts.append(phantom.opacities.shape[0])
        added.append(float(phantom.lesion_map.sum()))
    assert counts[0] == 0
    assert added[0] == 0.0
    assert counts[1] < counts[2] < counts[3]
    assert added[1] < added[2] < added[3]


def _texture_energy_ratio(phantom) -> float:  # type: ignore[no-untyped-def]
    """High-pass energy of the finding in the lungs over that of the healthy lung texture."""
    from scipy import ndimage

    lungs = phantom.lungs

    def high_pass(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, dtype=np.float64)
        return image - ndimage.gaussian_filter(image, 2.0)

    return float(
        high_pass(phantom.lesion_map)[lungs].std() / high_pass(phantom.healthy_image)[lungs].std()
    )


@pytest.mark.parametrize("profusion", [1, 3])
def test_one_profusion_category_looks_as_abnormal_for_p_as_for_q(profusion: int) -> None:
    """The ILO grades profusion by what the reader sees, whatever the opacities' size: a p finding
    adds about as much visible texture to the lungs as a q finding of the same category. Without
    the per-type contrast, projected spheres of p size added a quarter of q's and were invisible.
    """
    ratios = {
        kind: np.mean(
            [
                _texture_energy_ratio(
                    _phantom(
                        seed, 512, disease=DiseaseParams(profusion=profusion, opacity_type=kind)
                    )
                )
                for seed in (0, 1)
            ]
        )
        for kind in (IloType.P, IloType.Q)
    }
    assert 0.6 <= ratios[IloType.P] / ratios[IloType.Q] <= 1.6, ratios


def test_disease_parts_are_separable() -> None:
    haze_only = _phantom(size=128, disease=DiseaseParams(profusion=3, nodules=False, haze=0.2))
    assert haze_only.opacities.shape[0] == 0
    lesion = haze_only.lesion_map[haze_only.lungs]
    assert lesion.mean() > 0.02
    assert lesion.std() < lesion.mean()
    nodules_only = _phantom(size=128, disease=DiseaseParams(profusion=3, opacity_type=IloType.R))
    lesion = nodules_only.lesion_map[nodules_only.lungs]
    assert np.median(lesion) < 0.005 < lesion.max()  # focal spots on an unchanged background
    large = _phantom(size=128, disease=DiseaseParams(large_opacity=LargeOpacity.B))
    assert large.label is Label.PNEUMOCONIOSIS
    assert large.opacities.shape[0] == 0
    assert large.lesion_map.max() > 0.05


def test_foreign_objects_are_in_both_images() -> None:
    objects = frozenset({ForeignObject.PACEMAKER, ForeignObject.ECG_LEADS})
    phantom = _phantom(size=128, disease=DiseaseParams(profusion=2), foreign_objects=objects)
    assert phantom.foreign_mask.sum() > 20
    plain = _phantom(size=128)
    assert (
        phantom.healthy_image[phantom.foreign_mask].mean()
        > plain.image[phantom.foreign_mask].mean() + 0.1
    )
    assert np.array_equal(_phantom(size=128).lungs, phantom.lungs)


def test_realism_intensity_ordering_ratios_and_noise() -> None:
    """Approximate gray-level relations of processed PA chest radiographs (docs/phantoms.md).

    Ranges: lungs darkest inside the body, soft tissue between, mediastinum and bone brightest;
    lung / mediastinum mean ratio 0.35-0.65; outside-body air below 0.05; noise standard
    deviation in the lungs 0.2-2 % of the display range.
    """
    means = {region: [] for region in Region}
    noise = []
    for seed in range(4):
        phantom = _phantom(seed=seed, size=128)
        clean = _phantom(seed=seed, size=128, noise_level=0.0)
        for region in Region:
            means[region].append(phantom.image[phantom.regions == region].mean())
        noise.append((phantom.image - clean.image)[phantom.lungs].std())
    m = {region: float(np.mean(values)) for region, values in means.items()}
    assert m[Region.AIR] < 0.05
    assert m[Region.AIR] < m[Region.LUNG] < m[Region.SOFT_TISSUE] < m[Region.BONE]
    assert m[Region.SOFT_TISSUE] < m[Region.MEDIASTINUM]
    assert 0.25 <= m[Region.LUNG] <= 0.5
    assert 0.65 <= m[Region.MEDIASTINUM] <= 0.9
    assert 0.35 <= m[Region.LUNG] / m[Region.MEDIASTINUM] <= 0.65
    assert 0.6 <= m[Region.LUNG] / m[Region.SOFT_TISSUE] <= 0.9
    assert 0.002 <= float(np.mean(noise)) <= 0.02


def test_any_size_renders() -> None:
    for size in (32, 64, 200):
        phantom = _phantom(size=size, disease=DiseaseParams(profusion=1, opacity_type=IloType.P))
        assert phantom.image.shape == (size, size)
        assert phantom.lungs.any()


def test_gaussian_blur_preserves_mean_and_smooths() -> None:
    image = np.random.default_rng(0).random((40, 40), dtype=np.float32)
    blurred = gaussian_blur(image, 1.5)
    assert blurred.mean() == pytest.approx(image.mean(), abs=5e-3)
    assert blurred.std() < 0.5 * image.std()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"profusion": 4}, "profusion"),
        ({"opacity_type": "x"}, "opacity_type"),
        ({"haze": -0.1}, "haze"),
        ({"large_opacity": "D"}, "large_opacity"),
        ({"zone_weights": ((1.0, 1.0), (1.0, 1.0))}, "zone_weights"),
    ],
)
def test_disease_params_validate(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        DiseaseParams(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"size": 8}, "size"),
        ({"seed": -1}, "seed"),
        ({"spacing_mm": 0.0}, "spacing_mm"),
        ({"noise_level": float("nan")}, "noise_level"),
        ({"foreign_objects": frozenset({"scissors"})}, "foreign_objects"),
    ],
)
def test_phantom_params_validate(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        PhantomParams(**kwargs)
