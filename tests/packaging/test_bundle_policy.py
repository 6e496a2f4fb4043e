"""The bundle rules without a build: what is collected, dropped, stripped and reported."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest


def test_resources_mirror_the_source_tree(policy, tmp_path: Path) -> None:
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "sample_cxr.dcm").write_bytes(b"DICM")
    bundle = tmp_path / "models" / "classifier"
    bundle.mkdir(parents=True)
    (bundle / "model.safetensors").write_bytes(b"\x10\x00")
    (bundle / "config.json").write_text("{}")
    (tmp_path / "models" / ".DS_Store").write_bytes(b"")
    pairs = policy.resource_datas(tmp_path)
    assert sorted((Path(src).name, dest) for src, dest in pairs) == [
        ("config.json", "resources/models/classifier"),
        ("model.safetensors", "resources/models/classifier"),
        ("sample_cxr.dcm", "resources/samples"),
    ]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_pickle_in_resources_stops_the_build(policy, tmp_path: Path, protocol: int) -> None:
    bundle = tmp_path / "models" / "classifier"
    bundle.mkdir(parents=True)
    # A pickle disguised with an innocent name is caught by its header.
    (bundle / "model.safetensors").write_bytes(pickle.dumps({"w": 1}, protocol=protocol))
    with pytest.raises(policy.PickleInResourcesError, match=r"model\.safetensors"):
        policy.resource_datas(tmp_path)


def test_a_checkpoint_suffix_stops_the_build(policy, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "weights.pth").write_bytes(b"PK\x03\x04")
    with pytest.raises(policy.PickleInResourcesError, match=r"weights\.pth"):
        policy.resource_datas(tmp_path)


@pytest.mark.parametrize(
    ("destination", "dropped"),
    [
        ("torch/lib/libtorch_cpu.so", False),
        ("torch/bin/torch_shm_manager", False),  # import torch needs it
        ("torch/bin/test_api", True),
        ("torch/test/atest", True),
        ("torch/include/ATen/ATen.h", True),
        ("torch/lib/libtorchbind_test.so", True),
        ("torch/bin/upgrader_models/test_versioned_div_tensor_v2.ptl", True),
        ("sklearn/datasets/data/model.pkl", True),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", False),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", False),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", False),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", True),
        ("resources/models/classifier/model.safetensors", False),
        ("pylibjpeg_openjpeg-2.6.0.dist-info/entry_points.txt", False),
    ],
)
def test_drop_rules(policy, destination: str, dropped: bool) -> None:
    assert policy.is_dropped(destination) is dropped


def test_drop_summary_names_the_pattern(policy, tmp_path: Path) -> None:
    source = tmp_path / "test_api"
    source.write_bytes(b"x" * 10)
    toc = [
        ("torch/bin/test_api", str(source), "DATA"),
        ("torch/bin/torch_shm_manager", str(source), "DATA"),
    ]
    assert policy.drop_summary(toc) == {"torch/bin/*": (1, 10)}
    assert policy.filter_toc(toc) == toc[1:]


def test_strip_targets(policy, tmp_path: Path) -> None:
    (tmp_path / "torch" / "lib").mkdir(parents=True)
    for name in ("torch/lib/libtorch_cpu.so", "torch/lib/libc10.so", "libpython3.11.so.1.0"):
        (tmp_path / name).write_bytes(b"\x7fELF")
    assert [p.relative_to(tmp_path).as_posix() for p in policy.strip_targets(tmp_path)] == [
        "libpython3.11.so.1.0",
        "torch/lib/libtorch_cpu.so",
    ]


def test_size_report_totals_and_ranks(policy, tmp_path: Path) -> None:
    internal = tmp_path / "_internal"
    (internal / "torch" / "lib").mkdir(parents=True)
    (internal / "torch" / "lib" / "big.so").write_bytes(b"\0" * 3_000_000)
    (internal / "small.so").write_bytes(b"\0" * 1_000_000)
    (tmp_path / "cxr-explain").write_bytes(b"\0" * 2_000_000)
    (tmp_path / "link").symlink_to(internal / "small.so")  # links are not counted twice
    assert policy.tree_size(tmp_path) == 6_000_000
    assert [e.path for e in policy.largest_components(tmp_path, 2)] == [
        "_internal/torch/",
        "cxr-explain",
    ]
    report = policy.size_report(tmp_path, count=3, goal_mb=5)
    assert report.splitlines()[0].endswith("6.0 MB (OVER the 5 MB goal)")
    assert "3.0 MB  _internal/torch/lib/big.so" in report


def test_every_subcommand_module_is_a_hidden_import() -> None:
    """The CLI imports its subcommand modules by name; the frozen app must still carry them."""
    import bundle_policy

    from engine.cli.main import REGISTRY

    modules = bundle_policy.subcommand_modules()
    assert {entry.module for entry in REGISTRY} == set(modules)
    assert "engine.cli.explain" in modules
