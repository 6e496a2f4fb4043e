"""Model bundles: bit-exact round trips, checksum and pickle refusal, one-line errors."""

from __future__ import annotations

import ast
import json
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from engine.errors import ModelError
from engine.models import (
    CONFIG_FILE,
    MODEL_CARD_FILE,
    WEIGHTS_FILE,
    BundleConfig,
    is_pickle_checkpoint,
    load_bundle,
    refuse_pickle,
    save_bundle,
    sha256_of,
)
from engine.networks import Architecture, build_network

ENGINE = Path(__file__).resolve().parents[3] / "engine"

SMALL = {
    Architecture.UNET: ({"base_width": 4, "depth": 2}, (1, 1, 32, 32)),
    Architecture.GENERATOR: ({"base_width": 4, "n_residual_blocks": 2}, (1, 1, 32, 32)),
    Architecture.CONSTRAINED_GENERATOR: (
        {"base_width": 4, "n_residual_blocks": 2, "max_change": 0.5},
        (1, 1, 32, 32),
    ),
    Architecture.DISCRIMINATOR_PAPER: ({"base_width": 4}, (1, 1, 64, 64)),
    Architecture.PATCHGAN: ({"base_width": 4}, (1, 1, 32, 32)),
    Architecture.CLASSIFIER: ({"base_width": 4, "feature_dim": 8}, (2, 1, 32, 32)),
    Architecture.FIGAN_GENERATOR: (
        {"n_conditions": 2, "latent_dim": 3, "size": 16, "base_width": 4, "max_width": 8},
        (2, 1, 16, 16),
    ),
    Architecture.FIGAN_DISCRIMINATOR: (
        {"n_conditions": 2, "size": 16, "base_width": 4, "max_width": 8},
        (2, 1, 16, 16),
    ),
}


def _forward(module: torch.nn.Module, architecture: Architecture) -> torch.Tensor:
    """One forward pass on fixed inputs (the FIGAN networks also take a condition)."""
    torch.manual_seed(2)
    shape = SMALL[architecture][1]
    x = torch.rand(shape) * 2 - 1
    condition = torch.randn(shape[0], 2)
    with torch.no_grad():
        if architecture is Architecture.FIGAN_GENERATOR:
            return module(condition, torch.randn(shape[0], 3))
        if architecture is Architecture.FIGAN_DISCRIMINATOR:
            return module(x, condition)
        return module(x)


def _config(architecture: Architecture, model_id: str = "tiny") -> BundleConfig:
    kwargs, shape = SMALL[architecture]
    return BundleConfig(
        model_id=model_id,
        architecture=architecture,
        architecture_kwargs=kwargs,
        input_size=(shape[2], shape[3]),
        normalisation={"input_range": [-1, 1], "from": "display [0,1]"},
        labels=("healthy", "pneumoconiosis") if architecture is Architecture.CLASSIFIER else (),
        value_ranges={"input": [-1, 1]},
        training={"seed": 0, "epochs": 1, "command": "pytest"},
        metrics={"auc": 0.5},
    )


def _randomised(architecture: Architecture) -> torch.nn.Module:
    """A network whose every tensor (weights and BatchNorm statistics) is non-default."""
    torch.manual_seed(1)
    module = build_network(architecture, SMALL[architecture][0])
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) * 0.2 + 0.9)
            else:
                tensor.fill_(3)
    return module.eval()


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return save_bundle(
        _randomised(Architecture.CLASSIFIER), tmp_path, _config(Architecture.CLASSIFIER)
    )


@pytest.mark.parametrize("architecture", list(Architecture))
def test_round_trip_is_bit_exact(tmp_path: Path, architecture: Architecture) -> None:
    module = _randomised(architecture)
    bundle = save_bundle(module, tmp_path, _config(architecture), model_card="# tiny\n")
    assert bundle == tmp_path / "tiny"
    assert {p.name for p in bundle.iterdir()} == {WEIGHTS_FILE, CONFIG_FILE, MODEL_CARD_FILE}
    loaded = load_bundle(bundle, expected_architecture=architecture)
    assert not loaded.module.training
    original, restored = module.state_dict(), loaded.module.state_dict()
    assert original.keys() == restored.keys()
    for name, tensor in original.items():
        assert torch.equal(tensor, restored[name]), name
    assert torch.equal(_forward(module, architecture), _forward(loaded.module, architecture))


def test_config_json_contents(saved: Path) -> None:
    data = json.loads((saved / CONFIG_FILE).read_text())
    assert data["sha256"] == sha256_of(saved / WEIGHTS_FILE)
    assert data["architecture"] == "classifier"
    assert data["labels"] == ["healthy", "pneumoconiosis"]
    assert data["input_size"] == [32, 32]
    assert data["format_version"] == 1
    assert data["created"]
    config = load_bundle(saved).config
    assert BundleConfig.from_json(config.to_json()) == config
    assert config.architecture_kwargs["base_width"] == 4
    with pytest.raises(TypeError):
        config.training["seed"] = 1  # type: ignore[index]


def test_save_leaves_no_temporary_files(saved: Path) -> None:
    save_bundle(
        _randomised(Architecture.CLASSIFIER), saved.parent, _config(Architecture.CLASSIFIER)
    )
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]


def test_checksum_mismatch_is_refused(saved: Path) -> None:
    weights = saved / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_bundle(saved)


def _edit_config(bundle: Path, **changes: object) -> None:
    path = bundle / CONFIG_FILE
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "resnet50"}, "unknown architecture"),
        ({"sha256": None}, "lacks required key"),
        ({"architecture_kwargs": {"base_width": 8, "feature_dim": 8}}, "do not fit"),
        ({"architecture_kwargs": {"base_width": 4, "feature_dim": 8, "bogus": 1}}, "bogus"),
        ({"input_size": [32]}, "input_size"),
        ({"format_version": 99}, "format_version"),
        ({"model_id": "../escape"}, "model_id"),
    ],
)
def test_bad_config_is_a_one_line_model_error(saved: Path, changes: dict, message: str) -> None:
    _edit_config(saved, **changes)
    with pytest.raises(ModelError, match=message) as caught:
        load_bundle(saved)
    assert "\n" not in str(caught.value)


def test_missing_pieces(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_bundle(tmp_path / "absent")
    with pytest.raises(ModelError, match="is a file"):
        load_bundle(saved / CONFIG_FILE)
    (saved / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_bundle(saved)
    (saved / CONFIG_FILE).unlink()
    with pytest.raises(ModelError, match=f"no {CONFIG_FILE}"):
        load_bundle(saved)


def test_missing_weights_and_wrong_architecture(saved: Path) -> None:
    with pytest.raises(ModelError, match="expected a 'generator'"):
        load_bundle(saved, expected_architecture=Architecture.GENERATOR)
    (saved / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelError, match=f"no {WEIGHTS_FILE}"):
        load_bundle(saved)


def test_extra_tensor_is_refused(saved: Path) -> None:
    tensors = _randomised(Architecture.CLASSIFIER).state_dict()
    tensors["extra.weight"] = torch.zeros(2)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(saved / WEIGHTS_FILE))
    _edit_config(saved, sha256=sha256_of(saved / WEIGHTS_FILE))
    with pytest.raises(ModelError, match="unexpected"):
        load_bundle(saved)


def test_a_network_tensor_the_file_cannot_fill_is_refused(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Networks are built on the meta device; a non-persistent buffer (not in any state dict)
    would stay without storage, so loading must say so instead of failing at the first use."""
    from engine.models import bundle as bundle_module

    def with_scratch_buffer(architecture: Architecture, kwargs: dict) -> torch.nn.Module:
        module = build_network(architecture, kwargs)
        module.register_buffer("scratch", torch.zeros(3), persistent=False)
        return module

    monkeypatch.setattr(bundle_module, "build_network", with_scratch_buffer)
    with pytest.raises(ModelError, match="tensors the file lacks"):
        load_bundle(saved)


def test_loaded_parameters_stay_trainable(saved: Path) -> None:
    parameters = list(load_bundle(saved).module.parameters())
    assert parameters
    assert all(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in parameters)
    assert all(not p.is_meta for p in parameters)


def test_save_refuses_a_model_of_another_architecture(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="config says"):
        save_bundle(_randomised(Architecture.UNET), tmp_path, _config(Architecture.CLASSIFIER))
    wrong_kwargs = replace(_config(Architecture.CLASSIFIER), architecture_kwargs={"base_width": 8})
    with pytest.raises(ModelError, match="do not fit"):
        save_bundle(_randomised(Architecture.CLASSIFIER), tmp_path, wrong_kwargs)


class _Payload:
    """Unpickling this creates the marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pickle_in_a_bundle_is_never_executed(saved: Path, tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    weights = saved / WEIGHTS_FILE
    weights.write_bytes(pickle.dumps(_Payload(marker), protocol=protocol))
    _edit_config(saved, sha256=sha256_of(weights))  # an attacker controls both files
    with pytest.raises(ModelError, match="pickle checkpoint"):
        load_bundle(saved)
    assert not marker.exists()
    pickle.loads(weights.read_bytes()).close()  # the payload is live: unpickling does create it
    assert marker.exists()


@pytest.mark.parametrize("name", ["net_G_A.pth", "model.pt", "last.ckpt"])
def test_pickle_paths_are_refused(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / name
    torch.save({"payload": _Payload(marker)}, path)  # a zip-format torch checkpoint
    assert is_pickle_checkpoint(path)
    with pytest.raises(ModelError, match="is a pickle checkpoint; cxr-explain only loads"):
        refuse_pickle(path)
    with pytest.raises(ModelError, match="pickle checkpoint"):
        load_bundle(path)
    renamed = path.rename(tmp_path / "weights.safetensors")
    assert is_pickle_checkpoint(renamed)  # caught by the zip magic, not the name
    assert not marker.exists()


def test_safetensors_is_not_mistaken_for_a_pickle(saved: Path) -> None:
    assert not is_pickle_checkpoint(saved / WEIGHTS_FILE)


def test_no_torch_load_in_the_app_path() -> None:
    """``torch.load`` appears once in engine/, in the importer, with ``weights_only=True``."""
    calls = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "torch":
                assert "load" not in {alias.name for alias in node.names}, path
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                calls.append((path.relative_to(ENGINE).as_posix(), node))
        if path.name != "import_reference.py":
            assert "torch.load(" not in path.read_text(encoding="utf-8"), path
    assert [where for where, _ in calls] == ["models/import_reference.py"]
    keywords = {k.arg: ast.unparse(k.value) for k in calls[0][1].keywords}
    assert keywords["weights_only"] == "True"
    init = (ENGINE / "models" / "__init__.py").read_text(encoding="utf-8")
    assert "import_reference" not in init.split('"""')[-1]
