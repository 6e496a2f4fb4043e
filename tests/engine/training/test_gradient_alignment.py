"""The gradient-alignment term: twins are found by id, the term is 0 when the gradient points
along the planted change and 2 against it, and the classifier's training adds it when asked."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from engine.errors import InputError
from engine.inference.model_input import BACKGROUND
from engine.training.classifier import ClassifierConfig, ClassifierTask
from engine.training.data import LungField, Sample, Split
from engine.training.gradient_alignment import DISEASED, alignment_loss, twin_indices
from engine.training.run_files import MetricsLog
from engine.training.runtime import Runtime
from engine.training.task import PreparedData, prepare_data

SIZE = 16


def _sample(sample_id: str, label: int) -> Sample:
    return Sample(
        id=sample_id, path=Path(f"{sample_id}_{label}.png"), label=label, split=Split.TRAIN
    )


def test_twins_are_the_other_class_of_the_same_id() -> None:
    samples = [_sample("a", 1), _sample("b", 0), _sample("a", 0), _sample("c", 1)]
    assert twin_indices(samples, DISEASED).tolist() == [2, -1, -1, -1]
    assert twin_indices(samples, 0).tolist() == [-1, -1, 0, -1]


def _field() -> torch.Tensor:
    """One model input's lung field (the rest is background)."""
    field = torch.zeros(1, 1, SIZE, SIZE)
    field[..., 3:13, 2:14] = 1.0
    return field


def test_the_term_is_zero_along_the_planted_change_and_two_against_it() -> None:
    """A linear logit's input gradient is its weights: a twin pair differing along them scores
    0, along their opposite 2, and a change orthogonal to them 1; background pixels of the
    weights do not count."""
    torch.manual_seed(0)
    field = _field()
    weights = torch.randn(1, 1, SIZE, SIZE)

    def logits(images: torch.Tensor) -> torch.Tensor:
        return (images * weights).flatten(1).sum(1)

    healthy = torch.where(field > 0, torch.tensor(-0.2), torch.tensor(BACKGROUND))
    inside = weights * field
    orthogonal = torch.randn(1, 1, SIZE, SIZE) * field
    orthogonal -= (orthogonal * inside).sum() / (inside * inside).sum() * inside
    for change, expected in ((0.05 * inside, 0.0), (-0.05 * inside, 2.0), (orthogonal, 1.0)):
        diseased = healthy + 0.05 * change / change.abs().max()
        loss = alignment_loss(logits, diseased, healthy)
        assert float(loss) == pytest.approx(expected, abs=1e-4)


def test_the_term_gives_the_weights_a_gradient() -> None:
    network = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten()
    )
    head = torch.nn.Linear(2 * SIZE * SIZE, 1)

    def logits(images: torch.Tensor) -> torch.Tensor:
        return head(network(images))[:, 0]

    field = _field()
    healthy = torch.where(field > 0, torch.tensor(-0.2), torch.tensor(BACKGROUND))
    diseased = healthy + 0.1 * field * torch.rand(1, 1, SIZE, SIZE)
    alignment_loss(logits, diseased, healthy).backward()
    assert network[0].weight.grad is not None
    assert float(network[0].weight.grad.abs().sum()) > 0


def _tiny(data: Path, out: Path, **options: object) -> ClassifierConfig:
    """A classifier config small enough for a test: 32 px, width 4, two stages."""
    sizes: dict[str, object] = {"size": 32, "width": 4, "stages": 2}
    return ClassifierConfig(data=data, out=out, **{**sizes, **options})  # type: ignore[arg-type]


def _task(config: ClassifierConfig) -> tuple[ClassifierTask, PreparedData]:
    """The task of ``config`` on the CPU, its weights drawn from seed 0."""
    cpu = Runtime(device=torch.device("cpu"))
    data = prepare_data(config, cpu)
    torch.manual_seed(0)
    return ClassifierTask(config, cpu, data), data


def test_the_training_step_adds_the_weighted_term(shared_dataset: Path, tmp_path: Path) -> None:
    config = _tiny(shared_dataset, tmp_path / "run", dropout=0.0, gradient_alignment=0.5)
    task, data = _task(config)
    task.set_train_mode(False)
    indices = list(range(len(data.train)))
    assert (task.twins[indices] >= 0).sum() == len(indices) // 2  # every diseased image
    images, labels = task.batch(indices)
    plain = float(task.losses(images, labels)["loss"].detach())
    losses = task.step_losses(indices, images, labels)
    assert 0.0 <= float(losses["alignment"].detach()) <= 2.0
    assert float(losses["loss"].detach()) == pytest.approx(
        plain + 0.5 * float(losses["alignment"].detach())
    )
    assert task.loss_names == ("loss", "alignment")
    assert "--gradient-alignment 0.5" in config.command_line()


def test_unpaired_data_or_a_negative_weight_is_refused(make_dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="--gradient-alignment must be >= 0"):
        ClassifierConfig(data=tmp_path, out=tmp_path / "run", gradient_alignment=-1.0)
    data = make_dataset(n_ids=4)
    for path in (data / "healthy").iterdir():  # rename: no id is in both classes any more
        path.rename(path.with_name("h" + path.name))
    # The renamed images have no masks.
    config = _tiny(data, tmp_path / "run", gradient_alignment=1.0, lung_field=LungField.NONE)
    with pytest.raises(InputError, match="needs paired training images"):
        _task(config)


def test_in_training_the_term_shapes_the_eval_mode_gradient(
    shared_dataset: Path, tmp_path: Path
) -> None:
    """During a training step the term is that of the eval-mode network (running statistics,
    no dropout: the network generators and explanations use), of each diseased image and its
    own twin; the step then changes the weights and leaves the network in train mode."""
    task, data = _task(_tiny(shared_dataset, tmp_path / "run", dropout=0.5, gradient_alignment=1.0))
    samples = data.train.samples
    for index, twin in enumerate(task.twins):
        if twin >= 0:
            assert samples[twin].id == samples[index].id
            assert (samples[index].label, samples[twin].label) == (DISEASED, 1 - DISEASED)
    indices = list(range(len(data.train)))
    paired = [index for index in indices if task.twins[index] >= 0]
    images = torch.from_numpy(data.train.images)
    task.set_train_mode(True)
    inputs, labels = task.batch(indices)
    measured = float(task.step_losses(indices, inputs, labels)["alignment"].detach())
    assert task.network.training
    # The same running statistics (the step's own train-mode forward has updated them).
    task.network.eval()
    expected = float(
        alignment_loss(task.network, images[paired], images[task.twins[paired]]).detach()
    )
    task.network.train()
    assert measured == pytest.approx(expected, rel=1e-5)
    before = [parameter.detach().clone() for parameter in task.network.parameters()]
    values = task.train_step(indices, 0, 1)
    assert 0.0 <= values["alignment"] <= 2.0
    after = list(task.network.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


def test_a_loss_a_step_did_not_measure_is_an_empty_cell(tmp_path: Path) -> None:
    """A batch without a pair has no alignment value: the metrics log leaves its cell empty
    instead of writing a 0 that would read as perfect alignment."""
    log = MetricsLog(tmp_path, ("loss", "alignment"), None)
    log.write(0, 1, 1e-3, {"loss": 0.5, "alignment": 0.25}, 1.0)
    log.write(0, 2, 1e-3, {"loss": 0.4}, 2.0)
    log.close()
    with (tmp_path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["alignment"] for row in rows] == ["0.25", ""]
    assert [row["loss"] for row in rows] == ["0.5", "0.4"]
