"""The shared training loop: learning, exact resume, NaN stop, checkpoint format, schedules."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.errors import InputError
from engine.models import is_pickle_checkpoint
from engine.training.checkpoint import CHECKPOINT_FOLDER, CHECKPOINT_INDEX
from engine.training.classifier import ClassifierConfig, ClassifierTask, roc_auc
from engine.training.config import TrainConfig, TrainingError, resume_differences
from engine.training.cyclegan import CycleGANTask
from engine.training.cyclegan_config import CycleGANConfig
from engine.training.data import LungField
from engine.training.dispatch import train
from engine.training.image_pool import ImagePool
from engine.training.runtime import Runtime, resolve_device
from engine.training.segmenter import SegmenterConfig, SegmenterTask
from engine.training.task import prepare_data

CPU = Runtime(device=torch.device("cpu"))


def _tiny_gan(data: Path, out: Path, **options: object) -> CycleGANConfig:
    settings: dict[str, object] = {
        "data": data,
        "out": out,
        "size": 32,
        "epochs": 1,
        "ngf": 4,
        "ndf": 4,
        "residual_blocks": 1,
        "discriminator": "patchgan",
        "progress_bar": False,
        "sample_every": 0,
    }
    settings.update(options)
    return CycleGANConfig(**settings)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- learning


def test_segmenter_step_lowers_the_loss(shared_dataset: Path, tmp_path: Path) -> None:
    config = SegmenterConfig(data=shared_dataset, out=tmp_path, size=32, width=4, depth=2)
    data = prepare_data(config, CPU, lung_field=LungField.NONE, with_sides=True)
    torch.manual_seed(0)
    task = SegmenterTask(config, CPU, data)
    task.set_train_mode(True)
    indices = [0, 1, 2, 3]
    images, targets = task.batch(indices)
    with torch.no_grad():
        before = float(task.losses(images, targets)["loss"])
    task.train_step(indices, 0, 1)
    with torch.no_grad():
        after = float(task.losses(images, targets)["loss"])
    assert after < before


def test_classifier_step_lowers_the_loss(shared_dataset: Path, tmp_path: Path) -> None:
    config = ClassifierConfig(
        data=shared_dataset, out=tmp_path, size=32, width=4, stages=2, dropout=0.0
    )
    data = prepare_data(config, CPU)
    torch.manual_seed(0)
    task = ClassifierTask(config, CPU, data)
    task.set_train_mode(True)
    indices = list(range(len(data.train)))
    images, labels = task.batch(indices)
    with torch.no_grad():
        before = float(task.losses(images, labels)["loss"])
    task.train_step(indices, 0, 1)
    with torch.no_grad():
        after = float(task.losses(images, labels)["loss"])
    assert after < before


def test_cyclegan_step_lowers_the_reconstruction_loss(shared_dataset: Path, tmp_path: Path) -> None:
    config = _tiny_gan(shared_dataset, tmp_path, lr=1e-3, batch_size=2)
    data = prepare_data(config, CPU)
    torch.manual_seed(0)
    task = CycleGANTask(config, CPU, data)
    task.set_train_mode(True)
    real_a, real_b, *_ = task.batch([0, 1], 0)
    names = ("cycle_healthy", "cycle_disease", "identity_healthy", "identity_disease")

    def reconstruction() -> float:
        with torch.no_grad():
            losses, _, _ = task.generator_losses(real_a, real_b)
        return sum(float(losses[name]) for name in names)

    before = reconstruction()
    values = task.train_step([0, 1], 0, 1)
    assert set(task.loss_names) == set(values)
    assert reconstruction() < before


# --------------------------------------------------------------------------- exact resume


class _KilledError(Exception):
    pass


def _kill_after(step: int) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        if done == step:
            raise _KilledError

    return progress


def _csv_without_time(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return [row[:-1] for row in csv.reader(handle)]


def _assert_same_run(straight: Path, resumed: Path) -> None:
    index = json.loads((straight / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).read_text())
    other = json.loads((resumed / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).read_text())
    assert (index["step"], index["epoch"]) == (other["step"], other["epoch"])
    a = load_file(straight / CHECKPOINT_FOLDER / index["tensors"])
    b = load_file(resumed / CHECKPOINT_FOLDER / other["tensors"])
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert different == []  # weights, BN statistics, Adam moments, pools, RNG: bit-identical
    assert _csv_without_time(straight / "metrics.csv") == _csv_without_time(resumed / "metrics.csv")


def test_cyclegan_resume_mid_epoch_is_bit_identical(shared_dataset: Path, tmp_path: Path) -> None:
    # 4 train images per domain, batch 1: 4 steps in the epoch; kill after step 2 of 4
    options = {"checkpoint_every": 1, "pool_size": 1, "seed": 3}
    straight = _tiny_gan(shared_dataset, tmp_path / "straight", **options)
    result = train(straight)
    assert result.steps == 4
    interrupted = _tiny_gan(shared_dataset, tmp_path / "resumed", **options)
    with pytest.raises(_KilledError):
        train(interrupted, progress=_kill_after(2))
    assert json.loads((tmp_path / "resumed/checkpoint/latest.json").read_text())["step"] == 2
    train(dataclasses.replace(interrupted, resume=True))
    _assert_same_run(tmp_path / "straight", tmp_path / "resumed")
    for model_id in ("generator_to_disease", "generator_to_healthy"):
        weights = f"{model_id}/model.safetensors"
        straight_bytes = (tmp_path / "straight" / weights).read_bytes()
        assert straight_bytes == (tmp_path / "resumed" / weights).read_bytes()


def test_classifier_resume_across_epochs_with_dropout_and_shifts(
    make_dataset: Callable[..., Path], tmp_path: Path
) -> None:
    data = make_dataset(n_ids=3, test_ids=1)  # 4 train images, batch 2: 2 steps per epoch
    options: dict[str, object] = {
        "data": data,
        "size": 32,
        "epochs": 2,
        "batch_size": 2,
        "width": 4,
        "stages": 2,
        "dropout": 0.3,
        "augment_shift": 0.1,
        "progress_bar": False,
        "seed": 5,
    }
    train(ClassifierConfig(out=tmp_path / "straight", **options))  # type: ignore[arg-type]
    config = ClassifierConfig(out=tmp_path / "resumed", **options)  # type: ignore[arg-type]
    with pytest.raises(_KilledError):
        train(config, progress=_kill_after(3))  # killed in epoch 2, saved at step 2
    index = json.loads((tmp_path / "resumed" / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).read_text())
    before = index["seconds"]
    assert before > 0
    result = train(dataclasses.replace(config, resume=True))
    _assert_same_run(tmp_path / "straight", tmp_path / "resumed")
    # The resumed run goes on counting: its rows and its bundle include the first run's time.
    rows = (tmp_path / "resumed" / "metrics.csv").read_text().splitlines()
    assert float(rows[-1].split(",")[-1]) >= before
    final = json.loads((tmp_path / "resumed" / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).read_text())
    assert final["seconds"] > before
    bundle = json.loads((result.bundles[0] / "config.json").read_text())
    assert bundle["training"]["seconds"] >= round(final["seconds"], 1)  # the same clock


def test_resume_refuses_changed_options_and_fresh_runs_refuse_old_checkpoints(
    shared_dataset: Path, tmp_path: Path
) -> None:
    config = _tiny_gan(shared_dataset, tmp_path / "run", epochs=1)
    with pytest.raises(_KilledError):
        train(dataclasses.replace(config, checkpoint_every=1), progress=_kill_after(1))
    with pytest.raises(InputError, match="already holds a training checkpoint; pass --resume"):
        train(config)
    with pytest.raises(InputError, match=r"options differ.*--lr"):
        train(dataclasses.replace(config, resume=True, lr=1e-3, checkpoint_every=1))
    with pytest.raises(InputError, match="holds no checkpoint"):
        train(dataclasses.replace(config, out=tmp_path / "empty", resume=True))


# --------------------------------------------------------------------------- failures, files


def test_nan_loss_stops_with_the_step(
    shared_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ClassifierTask.losses

    def poisoned(
        self: ClassifierTask, images: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        loss = original(self, images, labels)["loss"]
        return {"loss": loss * float("nan") if self.optimizer.state else loss}  # from step 2 on

    monkeypatch.setattr(ClassifierTask, "losses", poisoned)
    config = ClassifierConfig(
        data=shared_dataset,
        out=tmp_path,
        size=32,
        width=4,
        stages=2,
        batch_size=2,
        progress_bar=False,
    )
    with pytest.raises(TrainingError, match=r"^training stopped at step 2: the loss loss is nan"):
        train(config)


def test_checkpoints_and_bundles_are_safetensors_and_json_only(
    shared_dataset: Path, tmp_path: Path
) -> None:
    result = train(
        SegmenterConfig(
            data=shared_dataset,
            out=tmp_path,
            size=32,
            width=4,
            depth=2,
            epochs=1,
            progress_bar=False,
        )
    )
    checkpoint = sorted(p.name for p in (tmp_path / CHECKPOINT_FOLDER).iterdir())
    assert checkpoint == ["latest.json", f"step_{result.steps:08d}.safetensors"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert not is_pickle_checkpoint(path), path
            assert path.suffix in {".safetensors", ".json", ".csv", ".png", ".md"}, path
    tensors_file = tmp_path / CHECKPOINT_FOLDER / checkpoint[1]
    raw = tensors_file.read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert {"model/unet/head.weight", "rng/torch_cpu"} <= set(header)
    assert any(key.startswith("optim/unet/") and key.endswith("/exp_avg") for key in header)
    assert header["rng/torch_cpu"]["dtype"] == "U8"
    index = json.loads((tmp_path / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).read_text())
    assert index["optimizers"]["unet"]["param_groups"][0]["betas"] == [0.9, 0.999]
    assert index["config"]["width"] == 4
    assert (tmp_path / "samples" / "epoch_0001.png").is_file()
    assert result.metrics["test_dice"] is not None


# --------------------------------------------------------------------------- pieces


def test_cyclegan_learning_rate_is_constant_then_decays_linearly() -> None:
    config = CycleGANConfig(data=Path("d"), out=Path("o"))  # the paper's 700 epochs
    task = CycleGANTask.__new__(CycleGANTask)
    task.gan_config = config
    factors = [task.lr_factor(epoch) for epoch in range(700)]
    assert factors[:350] == [1.0] * 350
    assert factors[350] == pytest.approx(1 - 1 / 351)
    assert factors[699] == pytest.approx(1 / 351)
    assert np.all(np.diff(factors[350:]) < 0)


def test_classifier_cosine_schedule_falls_from_the_base_rate_and_reaches_the_metrics(
    shared_dataset: Path, tmp_path: Path
) -> None:
    constant = ClassifierTask.__new__(ClassifierTask)
    constant.clf_config = ClassifierConfig(data=Path("d"), out=Path("o"), epochs=10)
    assert [constant.lr_factor(epoch) for epoch in range(10)] == [1.0] * 10
    cosine = ClassifierTask.__new__(ClassifierTask)
    cosine.clf_config = ClassifierConfig(
        data=Path("d"), out=Path("o"), epochs=10, lr_schedule="cosine"
    )
    factors = [cosine.lr_factor(epoch) for epoch in range(10)]
    assert factors[0] == 1.0
    assert factors[5] == pytest.approx(0.5)
    assert np.all(np.diff(factors) < 0)
    assert factors[-1] > 0
    with pytest.raises(InputError, match="lr-schedule"):
        ClassifierConfig(data=Path("d"), out=Path("o"), lr_schedule="step")

    config = ClassifierConfig(
        data=shared_dataset,
        out=tmp_path,
        size=32,
        width=4,
        stages=2,
        epochs=3,
        lr=1e-3,
        lr_schedule="cosine",
        sample_every=0,
        progress_bar=False,
    )
    train(config)
    with (tmp_path / "metrics.csv").open() as handle:
        rates = sorted({(int(row["epoch"]), float(row["lr"])) for row in csv.DictReader(handle)})
    assert [rate for _, rate in rates] == pytest.approx([1e-3, 7.5e-4, 2.5e-4])
    assert "--lr-schedule cosine" in config.command_line()


def test_paper_defaults() -> None:
    config = CycleGANConfig(data=Path("d"), out=Path("o"))
    assert (config.epochs, config.batch_size, config.lr) == (700, 1, 2e-4)
    assert (config.beta1, config.beta2, config.cycle_weight, config.identity_weight) == (
        0.5,
        0.999,
        10.0,
        0.5,
    )
    assert config.pool_size == 50


def test_image_pool_keeps_history_and_round_trips() -> None:
    torch.manual_seed(0)
    pool = ImagePool(2)
    images = [torch.full((1, 1, 2, 2), float(i)) for i in range(10)]
    returned = [pool.query(image) for image in images]
    assert torch.equal(returned[0], images[0])
    assert len(pool) == 2
    assert any(not torch.equal(r, i) for r, i in zip(returned[2:], images[2:], strict=True))
    state = pool.state()
    copy = ImagePool(2)
    copy.load_state(state, torch.device("cpu"))
    assert torch.equal(copy.state(), state)
    assert torch.equal(ImagePool(0).query(images[3]), images[3])


def test_roc_auc_matches_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 50)
    scores = np.round(rng.normal(size=50) + labels, 1)  # with ties
    assert roc_auc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores))
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_device_choice() -> None:
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            resolve_device("cuda")
        assert resolve_device("auto").type in {"cpu", "mps"}
    assert resolve_device("cpu").type == "cpu"


def test_bad_config_values_name_the_option() -> None:
    with pytest.raises(InputError, match=r"--epochs must be a whole number >= 1, got 0"):
        ClassifierConfig(data=Path("d"), out=Path("o"), epochs=0)
    with pytest.raises(InputError, match=r"--size must be a multiple of 16 and >= 48"):
        CycleGANConfig(data=Path("d"), out=Path("o"), size=40)
    with pytest.raises(InputError, match="--classifier-guidance needs --classifier"):
        CycleGANConfig(data=Path("d"), out=Path("o"), classifier_guidance=1.0)
    with pytest.raises(InputError, match=r"--device must be auto, cpu, cuda or mps, got 'tpu'"):
        ClassifierConfig(data=Path("d"), out=Path("o"), device="tpu")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"--upsampling must be transpose or resize, got 'x'"):
        CycleGANConfig(data=Path("d"), out=Path("o"), upsampling="x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"--pool-size must be a whole number >= 0, got -1"):
        CycleGANConfig(data=Path("d"), out=Path("o"), pool_size=-1)
    with pytest.raises(InputError, match=r"--batch-size must be a whole number >= 1, got 2.5"):
        ClassifierConfig(data=Path("d"), out=Path("o"), batch_size=2.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"--width must be a whole number >= 1, got 2.5"):
        ClassifierConfig(data=Path("d"), out=Path("o"), width=2.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"--ngf must be a whole number >= 1, got True"):
        CycleGANConfig(data=Path("d"), out=Path("o"), ngf=True)
    with pytest.raises(InputError, match=r"--cycle-weight must be >= 0, got -0.5"):
        CycleGANConfig(data=Path("d"), out=Path("o"), cycle_weight=-0.5)
    assert CycleGANConfig(data=Path("d"), out=Path("o"), ngf=np.int64(8)).ngf == 8  # type: ignore[arg-type]


def test_command_line_reproduces_the_config() -> None:
    config = CycleGANConfig(data=Path("/secret/site/data"), out=Path("o"), ngf=8, attention=False)
    command = config.command_line()
    assert command.startswith("cxr-explain train cyclegan --data data --out o")
    assert "--ngf 8" in command
    assert "--no-attention" in command
    assert "/secret" not in command
    assert isinstance(config, TrainConfig)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_channels_last_run(shared_dataset: Path, tmp_path: Path) -> None:
    clf = train(
        ClassifierConfig(
            data=shared_dataset, out=tmp_path / "clf", size=32, width=4, stages=2, epochs=2,
            batch_size=4, device="cuda", progress_bar=False,
        )
    )  # fmt: skip
    gan = train(
        _tiny_gan(shared_dataset, tmp_path / "gan", size=64, discriminator="paper",
                  device="cuda", classifier=clf.bundles[0])
    )  # fmt: skip
    assert gan.metrics["test_cycle_mae"] is not None
    index = json.loads((tmp_path / "gan" / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).read_text())
    tensors = load_file(tmp_path / "gan" / CHECKPOINT_FOLDER / index["tensors"])
    assert any(key.startswith("rng/cuda/") for key in tensors)
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_recalibrated_batchnorm_holds_the_exact_data_statistics() -> None:
    from engine.networks import ClassifierNet
    from engine.training.optim import recalibrate_batchnorm

    torch.manual_seed(0)
    network = ClassifierNet(base_width=4, n_stages=2, feature_dim=8)
    network.train()
    data = [torch.rand(4, 1, 32, 32) * 2 - 1 for _ in range(3)]
    recalibrate_batchnorm(network, data)
    assert network.training  # modes restored
    stem_bn = network.stem[1]
    with torch.no_grad():
        outputs = torch.cat([network.stem[0](batch) for batch in data])
    expected = outputs.mean(dim=(0, 2, 3))
    torch.testing.assert_close(stem_bn.running_mean, expected, rtol=1e-4, atol=1e-5)
    assert stem_bn.momentum == 0.1


def test_a_directional_change_needs_the_constrained_generator(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--change-sign directional needs --generator constrained"):
        CycleGANConfig(data=tmp_path, out=tmp_path / "run", size=48, change_sign="directional")
    config = CycleGANConfig(
        data=tmp_path, out=tmp_path / "run", generator="constrained", change_sign="directional"
    )
    assert config.generator_kwargs_toward(disease=True)["sign"] == 1
    assert config.generator_kwargs_toward(disease=False)["sign"] == -1
    assert "sign" not in dataclasses.replace(config, change_sign="free").generator_kwargs_toward(
        disease=True
    )


def test_an_edit_margin_needs_the_constrained_generator_and_reaches_its_bundle(
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError, match="--edit-margin needs --generator constrained"):
        CycleGANConfig(data=tmp_path, out=tmp_path / "run", size=48, edit_margin=2)
    config = CycleGANConfig(
        data=tmp_path, out=tmp_path / "run", generator="constrained", edit_margin=3
    )
    assert config.generator_kwargs["edit_margin"] == 3
    assert "edit_margin" not in dataclasses.replace(config, edit_margin=0).generator_kwargs
    with pytest.raises(InputError, match="edit-margin"):
        dataclasses.replace(config, edit_margin=-1)


def test_an_option_added_after_a_run_started_resumes_at_its_default(tmp_path: Path) -> None:
    config = CycleGANConfig(data=tmp_path, out=tmp_path / "run", size=48)
    saved = config.to_dict()
    del saved["sparsity_weight"]  # a checkpoint written before the option existed
    del saved["generator"]
    del saved["extra_guides"]  # a list option: its default is an empty tuple, recorded as []
    assert resume_differences(saved, config) == []
    changed = dataclasses.replace(
        config,
        sparsity_weight=0.5,
        generator="constrained",
        classifier=tmp_path / "classifier",
        classifier_guidance=1.0,
        extra_guides=(tmp_path / "oracle",),
    )
    assert resume_differences(saved, changed) == [
        "classifier",
        "classifier_guidance",
        "extra_guides",
        "generator",
        "sparsity_weight",
    ]
    assert resume_differences(changed.to_dict(), changed) == []  # as a checkpoint records it
