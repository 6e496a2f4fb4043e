"""The recipe's phantom data set: the same files whether rendered in one process or several."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.phantoms.population import BREAST_PROBABILITY, FOREIGN_OBJECT_PROBABILITY
from engine.training.defaults import BASE_BUNDLES, DefaultsPlan, DefaultsResult
from engine.training.defaults_data import (
    PHANTOM_MARKER,
    recipe_extras,
    recipe_marker,
    write_phantom_dataset,
)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_phantom_workers_write_the_same_files(tmp_path: Path) -> None:
    plan = DefaultsPlan.quick()
    serial = write_phantom_dataset(tmp_path / "serial", plan, seed=5)
    parallel = write_phantom_dataset(tmp_path / "parallel", plan, seed=5, workers=2)
    files = _digests(serial)
    # healthy + diseased image, three lung masks and the devices mask per anatomy, the manifest
    # and the recipe marker
    assert len(files) == plan.phantoms * 6 + 2
    assert files == _digests(parallel)


def test_another_seed_writes_other_phantoms(tmp_path: Path) -> None:
    plan = DefaultsPlan.quick()
    first = _digests(write_phantom_dataset(tmp_path / "a", plan, seed=5, workers=2))
    second = _digests(write_phantom_dataset(tmp_path / "b", plan, seed=6, workers=2))
    assert first["healthy/phantom_0000.png"] != second["healthy/phantom_0000.png"]


def test_the_shipped_recipe_draws_no_devices_or_breasts_and_keeps_its_marker() -> None:
    plan = DefaultsPlan()
    assert not any(recipe_extras(plan, seed=0, index=i).foreign_objects for i in range(200))
    assert not any(recipe_extras(plan, seed=0, index=i).breast_shadows for i in range(200))
    # Folders written before the option existed are still recognised as this recipe: the marker
    # is the one they hold.
    assert recipe_marker(plan, seed=0) == {
        "count": 1000,
        "sizes": [256, 512, 1024],
        "sixteen_bit_every": 3,
        "seed": 0,
        "test_fraction": 0.1,
        "opacity_types": ["p", "q", "r"],
        "haze_range": [0.05, 0.3],
        "opacity_density_range": [1.0, 3.0],
        "haze_probability": 0.5,
        "writer": "engine.training.defaults",
    }


def test_recipe_draws_devices_and_breasts_at_the_rates_asked_for() -> None:
    plan = replace(
        DefaultsPlan(),
        foreign_object_probability=FOREIGN_OBJECT_PROBABILITY,
        breast_probability=BREAST_PROBABILITY,
    )
    drawn = [recipe_extras(plan, seed=0, index=index) for index in range(1000)]
    with_devices = sum(bool(extras.foreign_objects) for extras in drawn) / len(drawn)
    with_breasts = sum(extras.breast_shadows for extras in drawn) / len(drawn)
    assert abs(with_devices - plan.foreign_object_probability) < 0.03
    assert abs(with_breasts - plan.breast_probability) < 0.05
    assert with_devices > 0.05
    assert with_breasts > 0.2


def test_devices_are_in_both_images_and_leave_the_findings_alone(tmp_path: Path) -> None:
    """Extras on every anatomy change the healthy and the diseased image alike: what the disease
    adds (diseased minus healthy) is the same finding with or without them."""
    import numpy as np
    from PIL import Image

    plain = DefaultsPlan.quick()
    loaded = replace(plain, foreign_object_probability=1.0, breast_probability=1.0)
    a = write_phantom_dataset(tmp_path / "plain", plain, seed=5)
    b = write_phantom_dataset(tmp_path / "extras", loaded, seed=5)
    marker = json.loads((b / PHANTOM_MARKER).read_text())
    assert marker["foreign_object_probability"] == 1.0
    changed = 0
    for index in range(plain.phantoms):
        name = f"phantom_{index:04d}.png"
        images = {
            (root, label): np.asarray(Image.open(root / label / name), dtype=np.float64)
            for root in (a, b)
            for label in ("healthy", "pneumoconiosis")
        }
        changed += not np.array_equal(images[(a, "healthy")], images[(b, "healthy")])
        lesion_plain = images[(a, "pneumoconiosis")] - images[(a, "healthy")]
        lesion_extras = images[(b, "pneumoconiosis")] - images[(b, "healthy")]
        assert np.corrcoef(lesion_plain.ravel(), lesion_extras.ravel())[0, 1] > 0.5
    assert changed == plain.phantoms


def test_two_jobs_train_the_recipe_and_a_serial_rerun_resumes_it(tmp_path: Path) -> None:
    """--jobs 2 runs the stages in their own processes with the serial run's configurations: a
    rerun with one job finds every run finished (resume checks the options) and re-exports it."""
    from engine.training.defaults import train_defaults

    out, work = tmp_path / "models", tmp_path / "work"
    first = train_defaults(out, work, quick=True, progress_bar=False, jobs=2)
    names = sorted(path.name for path in first.bundles)
    assert names == sorted(
        [
            "segmenter",
            "device_segmenter",
            "classifier",
            "oracle",
            "generator_to_disease",
            "generator_to_healthy",
            "figan",
        ]
    )
    offsets = _operating_points(out)
    assert set(offsets) == {"classifier", "oracle"}  # the recipe ends with the operating point
    _assert_the_shipped_classifier_is_the_fine_tuned_one(out, work, first)
    # The device segmenter trained on a set of its own, and the model folder loads it.
    from engine.inference.model_set import load_model_set

    assert (work / "phantoms_devices" / "masks" / "phantom_0000_devices.png").is_file()
    assert load_model_set(out).devices is not None
    steps = _last_steps(work)
    again = train_defaults(out, work, quick=True, progress_bar=False, jobs=1)
    assert sorted(path.name for path in again.bundles) == names
    assert _last_steps(work) == steps  # nothing trained twice
    assert _operating_points(out) == pytest.approx(offsets, abs=1e-5)  # and the same threshold
    untuned = replace(DefaultsPlan.quick(), finetune=None)
    with pytest.raises(InputError, match="with the classifier fine-tuning stage and this plan is"):
        train_defaults(out, work, plan=untuned, progress_bar=False)


def _operating_points(out: Path) -> dict[str, float]:
    points = {}
    for name in ("classifier", "oracle"):
        config = json.loads((out / name / "config.json").read_text())
        assert config["training"]["operating_point"]["healthy_images"] == 20
        points[name] = config["architecture_kwargs"]["decision_offset"]
    return points


def _last_steps(work: Path) -> dict[str, str]:
    """The last metrics row of each run (a rerun that trained again would add rows)."""
    rows = {}
    for metrics in sorted(work.glob("*/metrics.csv")):
        rows[metrics.parent.name] = metrics.read_text().splitlines()[-1]
    return rows


def _assert_the_shipped_classifier_is_the_fine_tuned_one(
    out: Path, work: Path, result: DefaultsResult
) -> None:
    """The quick plan fine-tunes: ``out/classifier`` starts from the first classifier's bundle,
    the CycleGAN was guided by that first one and the FIGAN belongs to the fine-tuned weights."""
    from engine.figan.explore import check_pairing
    from engine.figan.pls import load_pls
    from engine.models import load_bundle
    from engine.networks import Architecture

    assert result.classifier_before_finetune is not None
    base = result.classifier_before_finetune.bundles[0]
    assert base.parent == work / BASE_BUNDLES
    tuned = load_bundle(out / "classifier", Architecture.CLASSIFIER)
    assert "--init-from classifier" in tuned.config.training["command"]
    assert tuned.config.sha256 != load_bundle(base, Architecture.CLASSIFIER).config.sha256
    assert (work / "phantoms_finetune" / "manifest.csv").is_file()
    generator = load_bundle(out / "figan", Architecture.FIGAN_GENERATOR)
    check_pairing(generator, load_pls(out / "figan"), tuned)  # ModelError if not its classifier


def test_recipe_draws_noise_levels_log_uniform_and_leaves_the_rest_alone() -> None:
    plain = DefaultsPlan()
    noisy = replace(plain, noise_levels=(0.5, 2.0))
    drawn = [recipe_extras(noisy, seed=0, index=index) for index in range(1000)]
    levels = [extras.noise_level for extras in drawn]
    assert all(0.5 <= level <= 2.0 for level in levels)
    # Log-uniform: as many below the geometric middle (1) as above it; a uniform draw would put
    # a third below.
    below = sum(level < 1.0 for level in levels) / len(levels)
    assert abs(below - 0.5) < 0.05
    assert {recipe_extras(plain, seed=0, index=i).noise_level for i in range(50)} == {1.0}
    # Devices and breast shadows come from their own stream: the same with and without noise.
    loaded = replace(noisy, foreign_object_probability=0.5, breast_probability=0.5)
    unloaded = replace(loaded, noise_levels=(1.0, 1.0))
    for index in range(50):
        a, b = recipe_extras(loaded, 0, index), recipe_extras(unloaded, 0, index)
        assert (a.foreign_objects, a.breast_shadows) == (b.foreign_objects, b.breast_shadows)
    assert recipe_marker(noisy, seed=0)["noise_levels"] == [0.5, 2.0]
    assert "noise_levels" not in recipe_marker(plain, seed=0)


@pytest.mark.parametrize("levels", [(0.0, 1.0), (2.0, 1.0), (-1.0, -0.5)])
def test_a_noise_range_that_is_not_one_is_refused(levels: tuple[float, float]) -> None:
    plan = replace(DefaultsPlan(), noise_levels=levels)
    with pytest.raises(ValueError, match="noise levels"):
        recipe_extras(plan, seed=0, index=0)


def test_noise_levels_change_the_images_noise_and_not_the_finding(tmp_path: Path) -> None:
    """At a drawn level the healthy image's fine texture follows the level; the finding (the
    diseased minus the healthy image) is the one drawn at the documented noise."""
    import numpy as np
    from PIL import Image

    plain = DefaultsPlan.quick()
    noisy = replace(plain, noise_levels=(0.25, 4.0))
    a = write_phantom_dataset(tmp_path / "plain", plain, seed=5)
    b = write_phantom_dataset(tmp_path / "noisy", noisy, seed=5)
    marker = json.loads((b / PHANTOM_MARKER).read_text())
    assert marker["noise_levels"] == [0.25, 4.0]

    def load(root: Path, label: str, name: str) -> np.ndarray:
        return np.asarray(Image.open(root / label / name), dtype=np.float64)

    def roughness(image: np.ndarray) -> float:  # pixel-to-pixel differences: mostly noise
        return float(np.std(np.diff(image, axis=1)))

    ratios, levels = [], []
    for index in range(plain.phantoms):
        name = f"phantom_{index:04d}.png"
        healthy_a, healthy_b = load(a, "healthy", name), load(b, "healthy", name)
        ratios.append(roughness(healthy_b) / roughness(healthy_a))
        levels.append(recipe_extras(noisy, 5, index).noise_level)
        lesion_a = load(a, "pneumoconiosis", name) - healthy_a
        lesion_b = load(b, "pneumoconiosis", name) - healthy_b
        assert np.corrcoef(lesion_a.ravel(), lesion_b.ravel())[0, 1] > 0.5
    # The noisier the anatomy was drawn, the rougher its image.
    assert np.corrcoef(np.log(levels), np.log(ratios))[0, 1] > 0.8
