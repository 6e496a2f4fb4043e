"""Adversarial training inputs: the change stays in its budget and the lung field, finds the
worst direction, and the classifier's training uses it when asked."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from engine.errors import InputError
from engine.inference.model_input import BACKGROUND
from engine.training.adversarial import adversarial, lung_field
from engine.training.classifier import ClassifierConfig, ClassifierTask
from engine.training.runtime import Runtime
from engine.training.task import prepare_data

SIZE = 24


def _inputs(value: float = 0.0) -> torch.Tensor:
    """Two model inputs: lung fields of ``value`` (the second smaller) in a background frame."""
    images = torch.full((2, 1, SIZE, SIZE), BACKGROUND)
    images[0, :, 4:20, 3:21] = value
    images[1, :, 6:14, 5:15] = value
    return images


def _linear(weights: torch.Tensor) -> torch.nn.Module:
    class Linear(torch.nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return (images * weights).flatten(1).sum(1)

    return Linear()


def test_the_change_is_the_worst_one_inside_the_budget_and_the_lung_field() -> None:
    """For a linear logit the worst change of L2 norm b lowers a positive's logit by exactly
    b times the norm of the weights over the field: the walk must reach it, and no further."""
    weights = torch.randn(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(3))
    network = _linear(weights)
    images = _inputs()
    labels = torch.tensor([1.0, 0.0])
    radius = 0.02
    attacked = adversarial(network, images, labels, radius, steps=3)
    change = attacked - images
    field = lung_field(images).bool()
    assert torch.equal(change[~field], torch.zeros_like(change[~field]))
    moved = network(attacked) - network(images)
    for i, sign in ((0, -1.0), (1, 1.0)):
        budget = radius * math.sqrt(int(field[i].sum()))  # each image its own field's budget
        assert float(change[i].norm()) <= budget * (1 + 1e-5)
        worst = budget * float((weights * field[i]).norm())
        assert float(moved[i]) == pytest.approx(sign * worst, rel=1e-4)


def test_the_linf_change_is_the_worst_corner_of_its_box_inside_the_lung_field() -> None:
    """For a linear logit the worst change bounded by e per pixel is -e (positives) or +e
    (negatives) times the sign of each field weight: it lowers a positive's logit by e times the
    L1 norm of the weights over the field. The walk must reach that corner, and never leave the
    box or the field."""
    weights = torch.randn(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    network = _linear(weights)
    images = _inputs()
    labels = torch.tensor([1.0, 0.0])
    radius = 0.03
    attacked = adversarial(network, images, labels, radius, steps=3, norm="linf")
    change = attacked - images
    field = lung_field(images).bool()
    assert torch.equal(change[~field], torch.zeros_like(change[~field]))
    assert float(change.abs().max()) <= radius * (1 + 1e-6)
    moved = network(attacked) - network(images)
    for i, sign in ((0, -1.0), (1, 1.0)):
        worst = radius * float((weights * field[i]).abs().sum())
        assert float(moved[i]) == pytest.approx(sign * worst, rel=1e-4)
        expected = sign * radius * torch.sign(weights[0]) * field[i]
        assert torch.allclose(change[i], expected, atol=1e-6)


def test_an_unknown_norm_is_refused() -> None:
    with pytest.raises(ValueError, match="norm must be one of"):
        adversarial(_linear(torch.ones(1, 1, SIZE, SIZE)), _inputs(), torch.ones(2), 0.1, 1, "l1")


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_values_stay_in_range_and_nothing_changes_without_a_radius(norm: str) -> None:
    network = _linear(torch.ones(1, 1, SIZE, SIZE))
    images = _inputs(0.999)
    labels = torch.zeros(2)  # the worst change raises every pixel, against the ceiling
    attacked = adversarial(network, images, labels, 0.5, 2, norm)
    assert float(attacked.max()) <= 1.0
    assert float(attacked.max()) == 1.0
    assert torch.equal(adversarial(network, images, labels, 0.0, 2, norm), images)


def test_the_weights_get_no_gradient_from_the_search() -> None:
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(SIZE * SIZE, 1))

    def logits(images: torch.Tensor) -> torch.Tensor:
        return network(images)[:, 0]

    adversarial(logits, _inputs(0.1), torch.ones(2), 0.05, steps=2)
    assert all(parameter.grad is None for parameter in network.parameters())


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"adversarial_radius": -0.1}, "--adversarial-radius must be in"),
        ({"adversarial_radius": 0.05, "adversarial_steps": 0}, "--adversarial-steps must be"),
        ({"adversarial_radius": 0.05, "adversarial_norm": "l1"}, "--adversarial-norm must be"),
        ({"adversarial_radius": 0.05, "adversarial_clean_share": 1.0}, "clean-share must be"),
        ({"adversarial_clean_share": 0.5}, "--adversarial-clean-share needs --adversarial-radius"),
    ],
)
def test_bad_adversarial_options_are_refused(
    tmp_path: Path, options: dict[str, object], words: str
) -> None:
    with pytest.raises(InputError, match=words):
        ClassifierConfig(data=tmp_path, out=tmp_path / "run", **options)  # type: ignore[arg-type]


def test_the_recorded_command_carries_the_radius(tmp_path: Path) -> None:
    config = ClassifierConfig(
        data=tmp_path, out=tmp_path / "run", adversarial_radius=0.02, adversarial_norm="linf"
    )
    assert "--adversarial-radius 0.02" in config.command_line()
    assert "--adversarial-norm linf" in config.command_line()


def test_adversarial_training_scores_the_worst_inputs(shared_dataset: Path, tmp_path: Path) -> None:
    """With a radius the loss the step optimises is that of the attacked batch (higher than the
    clean one's); a step with it updates the weights."""
    options: dict[str, object] = {"size": 32, "width": 4, "stages": 2, "dropout": 0.0}
    cpu = Runtime(device=torch.device("cpu"))
    clean_config = ClassifierConfig(data=shared_dataset, out=tmp_path / "a", **options)  # type: ignore[arg-type]
    data = prepare_data(clean_config, cpu)
    torch.manual_seed(0)
    clean = ClassifierTask(clean_config, cpu, data)
    robust_config = ClassifierConfig(
        data=shared_dataset,
        out=tmp_path / "b",
        adversarial_radius=0.1,
        **options,  # type: ignore[arg-type]
    )
    torch.manual_seed(0)
    robust = ClassifierTask(robust_config, cpu, data)
    for task in (clean, robust):
        task.set_train_mode(False)  # the same deterministic network in both
    indices = list(range(len(data.train)))
    images, labels = clean.batch(indices)
    clean_loss = float(clean.losses(images, labels)["loss"].detach())
    attacked_loss = float(robust.losses(images, labels)["loss"].detach())
    assert attacked_loss > clean_loss + 1e-3
    before = [parameter.detach().clone() for parameter in robust.network.parameters()]
    robust.set_train_mode(True)
    values = robust.train_step(indices, 0, 1)
    assert math.isfinite(values["loss"])
    after = list(robust.network.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


def test_a_clean_share_mixes_the_clean_and_the_attacked_loss(
    shared_dataset: Path, tmp_path: Path
) -> None:
    """With ``adversarial_clean_share`` s the loss is s times the clean batch's BCE plus 1 - s
    times the attacked batch's, both from the same network (one forward pass over both)."""
    options: dict[str, object] = {"size": 32, "width": 4, "stages": 2, "dropout": 0.0}
    cpu = Runtime(device=torch.device("cpu"))
    data = prepare_data(ClassifierConfig(data=shared_dataset, out=tmp_path / "a", **options), cpu)  # type: ignore[arg-type]
    losses = {}
    for share, radius in ((0.0, 0.0), (0.0, 0.1), (0.3, 0.1)):
        config = ClassifierConfig(
            data=shared_dataset,
            out=tmp_path / f"run{share}{radius}",
            adversarial_radius=radius,
            adversarial_clean_share=share,
            **options,  # type: ignore[arg-type]
        )
        torch.manual_seed(0)
        task = ClassifierTask(config, cpu, data)
        task.set_train_mode(False)
        images, labels = task.batch(list(range(len(data.train))))
        losses[share, radius] = float(task.losses(images, labels)["loss"].detach())
    clean, attacked, mixed = losses[0.0, 0.0], losses[0.0, 0.1], losses[0.3, 0.1]
    assert attacked > clean + 1e-3
    assert mixed == pytest.approx(0.3 * clean + 0.7 * attacked, rel=1e-5)
    recorded = ClassifierConfig(
        data=shared_dataset, out=tmp_path / "r", adversarial_radius=0.1, adversarial_clean_share=0.3
    ).command_line()
    assert "--adversarial-clean-share 0.3" in recorded
