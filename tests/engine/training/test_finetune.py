"""Fine-tuning a classifier from a bundle: ``--init-from`` starts from its weights, refuses a
bundle of another shape in one line, and the recorded command reproduces the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.errors import InputError
from engine.models import load_bundle
from engine.networks import Architecture
from engine.training.classifier import ClassifierConfig, ClassifierTask
from engine.training.dispatch import train
from engine.training.runtime import Runtime
from engine.training.task import prepare_data

CPU = Runtime(device=torch.device("cpu"))


def _tiny(data: Path, out: Path, **options: object) -> ClassifierConfig:
    settings: dict[str, object] = {
        "size": 32,
        "width": 4,
        "stages": 2,
        "feature_dim": 8,
        "epochs": 1,
        "batch_size": 4,
        "sample_every": 0,
        "progress_bar": False,
    }
    return ClassifierConfig(data=data, out=out, **{**settings, **options})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def base_bundle(shared_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base")
    train(_tiny(shared_dataset, out, seed=3))
    return out / "classifier"


def test_the_network_starts_from_the_bundle_weights(
    shared_dataset: Path, base_bundle: Path, tmp_path: Path
) -> None:
    config = _tiny(shared_dataset, tmp_path, init_from=base_bundle, seed=11)
    task = ClassifierTask(config, CPU, prepare_data(config, CPU))
    saved = load_bundle(base_bundle, Architecture.CLASSIFIER).module.state_dict()
    started = task.network.state_dict()
    assert saved.keys() == started.keys()
    for name, tensor in saved.items():
        assert torch.equal(tensor, started[name]), name
    fresh = ClassifierTask(_tiny(shared_dataset, tmp_path, seed=11), CPU, prepare_data(config, CPU))
    weights = [n for n in saved if n.endswith("weight")]
    assert any(not torch.equal(saved[n], fresh.network.state_dict()[n]) for n in weights)


def test_a_bundle_of_another_shape_is_refused_naming_the_option(
    shared_dataset: Path, base_bundle: Path, tmp_path: Path
) -> None:
    config = _tiny(shared_dataset, tmp_path, init_from=base_bundle, width=6)
    with pytest.raises(InputError, match=r"--init-from classifier .*--width 4 \(this run: 6\)"):
        ClassifierTask(config, CPU, prepare_data(config, CPU))


def test_the_shape_is_checked_before_any_image_loads(base_bundle: Path, tmp_path: Path) -> None:
    """The refusal comes first: a missing data folder would be the error otherwise."""
    config = _tiny(tmp_path / "no_such_folder", tmp_path / "out", init_from=base_bundle, stages=3)
    with pytest.raises(InputError, match=r"--init-from classifier .*--stages 2 \(this run: 3\)"):
        train(config)
    missing = _tiny(tmp_path / "no_such_folder", tmp_path / "out", init_from=tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"^--init-from nowhere: .*does not exist"):
        train(missing)


def test_a_fine_tuned_run_records_its_start_and_trains(
    shared_dataset: Path, base_bundle: Path, tmp_path: Path
) -> None:
    train(_tiny(shared_dataset, tmp_path, init_from=base_bundle, lr=1e-2))
    tuned = load_bundle(tmp_path / "classifier", Architecture.CLASSIFIER)
    assert "--init-from classifier" in tuned.config.training["command"]
    base = load_bundle(base_bundle, Architecture.CLASSIFIER).module.state_dict()
    changed = [n for n, t in tuned.module.state_dict().items() if not torch.equal(t, base[n])]
    assert changed, "one epoch at lr 1e-2 left every weight as it was"


def test_the_command_line_takes_init_from(
    base_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through ``cxr-explain train``: the option reaches the run, and a wrong bundle is one line."""
    from engine.cli.main import main

    argv = ["train", "classifier", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    code = main([*argv, "--init-from", str(base_bundle), "--width", "8"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1
    assert "--init-from classifier was trained with --width 4 (this run: 8)" in lines[0]
