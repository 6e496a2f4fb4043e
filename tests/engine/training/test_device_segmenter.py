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
from engine.training.data import DeviceMasks, load_images, scan_dataset
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
    loaded = load_images(samples, 32, devices=DeviceMasks.REQUIRED)
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
            load_images(scan_dataset(device_set), 32, devices=DeviceMasks.REQUIRED)
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


def test_the_constrained_cyclegan_keeps_the_datas_devices(device_set: Path, tmp_path: Path) -> None:
    """With device masks in the data, the constrained generator's translations (and their way
    back) leave those pixels exactly as they were; the paper generator ignores them."""
    import torch

    from engine.training.cyclegan import CycleGANTask
    from engine.training.cyclegan_config import CycleGANConfig
    from engine.training.runtime import start_runtime
    from engine.training.task import prepare_data

    options = {"size": 32, "ngf": 4, "ndf": 4, "residual_blocks": 1, "discriminator": "patchgan"}
    config = CycleGANConfig(
        data=device_set, out=tmp_path / "gan", generator="constrained", **options
    )
    assert CycleGANTask.data_devices(config) is DeviceMasks.WHEN_PRESENT
    runtime = start_runtime("cpu")
    task = CycleGANTask(
        config, runtime, prepare_data(config, runtime, devices=DeviceMasks.WHEN_PRESENT)
    )
    for generator in (task.g_ab, task.g_ba):  # a change everywhere it may change
        last = generator.body.decoder[-2]
        torch.nn.init.constant_(last.bias, 0.5)
    batch = task.batch(list(range(4)), 0)
    real_a, real_b, keep_a, keep_b = batch.real_a, batch.real_b, batch.keep_a, batch.keep_b
    assert keep_a is not None
    assert keep_b is not None
    assert keep_a.any()
    with torch.no_grad():
        _, fake_b, fake_a = task.generator_losses(*batch)
    assert torch.equal(fake_b[keep_a.bool()], real_a[keep_a.bool()])
    assert torch.equal(fake_a[keep_b.bool()], real_b[keep_b.bool()])
    editable = (real_a > -1 + 1e-4) & ~keep_a.bool()
    assert not torch.equal(fake_b[editable], real_a[editable])  # it did change the rest
    # The model card says the data's device masks were used.
    assert "device masks as keep mask" in task.bundles({})[0].description
    paper = CycleGANConfig(data=device_set, out=tmp_path / "paper", **options)
    assert CycleGANTask.data_devices(paper) is DeviceMasks.NONE
