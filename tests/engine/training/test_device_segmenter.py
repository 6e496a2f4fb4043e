"""The device segmenter: its masks on disk, its data, its training and its bundle (issue 19)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import main
from engine.errors import InputError
from engine.models import load_bundle
from engine.networks import Architecture
from engine.phantoms import DiseaseParams, ForeignObject, generate_pair
from engine.phantoms.pair_files import PairLayout, write_pair
from engine.phantoms.population import PopulationExtras
from engine.training.data import load_images, scan_dataset
from engine.training.defaults_data import write_phantom_dataset
from engine.training.defaults_plan import DefaultsPlan
from engine.training.device_defaults import DevicePlan, devices_data_plan
from engine.training.device_segmenter import device_scores

LEADS = PopulationExtras(foreign_objects=frozenset({ForeignObject.ECG_LEADS}))


@pytest.fixture(scope="module")
def device_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recipe's quick device set: 8 anatomies, most with devices."""
    plan = DefaultsPlan.quick()
    folder = tmp_path_factory.mktemp("devices")
    return write_phantom_dataset(folder, devices_data_plan(plan, DevicePlan.quick()), seed=13)


def test_a_pair_writes_its_devices_mask(tmp_path: Path) -> None:
    layout = PairLayout(tmp_path, "healthy", "pneumoconiosis", "masks")
    for name in ("healthy", "pneumoconiosis", "masks"):
        (tmp_path / name).mkdir()
    write_pair(layout, "a", 5, DiseaseParams(), 96, sixteen_bit=False, extras=LEADS)
    written = np.asarray(Image.open(tmp_path / "masks" / "a_devices.png")) > 127
    phantom = generate_pair(seed=5, disease=DiseaseParams(), size=96, **LEADS.as_options())
    assert phantom.foreign_mask.any()
    np.testing.assert_array_equal(written, phantom.foreign_mask)


def test_device_targets_load_at_model_size(device_set: Path) -> None:
    samples = scan_dataset(device_set)
    assert all(s.devices_mask is not None for s in samples)
    loaded = load_images(samples, 32, with_devices=True)
    assert loaded.devices is not None
    assert loaded.devices.shape == (len(samples), 1, 32, 32)
    assert set(np.unique(loaded.devices)) <= {0.0, 1.0}
    # Every image keeps a target at model size exactly when it has devices on disk (thin leads
    # included: 1 px in a 64-80 px file, letterboxed to 32).
    on_disk = [np.asarray(Image.open(str(s.devices_mask))).any() for s in samples]
    assert any(on_disk)
    for index, has_devices in enumerate(on_disk):
        assert loaded.devices[index].any() == has_devices


def test_an_image_without_a_devices_mask_is_named(device_set: Path, tmp_path: Path) -> None:
    samples = scan_dataset(device_set)
    missing = samples[0]
    assert missing.devices_mask is not None
    copy = missing.devices_mask.read_bytes()
    try:
        missing.devices_mask.unlink()
        with pytest.raises(InputError, match=f"{missing.id} has no masks/{missing.id}_devices"):
            load_images(scan_dataset(device_set), 32, with_devices=True)
    finally:
        missing.devices_mask.write_bytes(copy)


def test_device_scores_pool_over_images() -> None:
    truth = np.zeros((2, 1, 4, 4), bool)
    truth[0, 0, 0, :2] = True  # 2 device pixels, 1 found
    truth[1, 0, 3, :] = True  # 4 device pixels, 3 found
    found = np.zeros_like(truth)
    found[0, 0, 0, 0] = True
    found[1, 0, 3, :3] = True
    found[1, 0, 0, 0] = True  # and one false alarm
    scores = device_scores(found, truth)
    assert scores["test_device_recall"] == pytest.approx(4 / 6)
    assert scores["test_device_precision"] == pytest.approx(4 / 5)
    assert scores["test_device_dice"] == pytest.approx(8 / 11)
    assert device_scores(np.zeros_like(truth), np.zeros_like(truth))["test_device_recall"] is None


def test_train_devices_from_the_cli_writes_a_one_channel_unet(
    device_set: Path, tmp_path: Path
) -> None:
    argv = ["train", "devices", "--data", str(device_set), "--out", str(tmp_path / "run")]
    options = ["--size", "32", "--width", "4", "--depth", "2", "--epochs", "1", "--no-progress"]
    assert main([*argv, *options]) == 0
    loaded = load_bundle(tmp_path / "run" / "device_segmenter", Architecture.UNET)
    assert loaded.config.architecture_kwargs["out_channels"] == 1
    assert "test_device_recall" in loaded.config.metrics


def test_train_devices_refuses_a_bad_positive_weight(device_set: Path, tmp_path: Path) -> None:
    argv = ["train", "devices", "--data", str(device_set), "--out", str(tmp_path / "run")]
    assert main([*argv, "--positive-weight", "0"]) != 0
