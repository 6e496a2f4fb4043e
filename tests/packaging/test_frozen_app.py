"""Build the desktop bundle with PyInstaller and run the frozen app.

What breaks only when frozen: decoder plugins found through entry points, Qt platform plugins,
resources under ``sys._MEIPASS``, multiprocessing re-spawning the app, torch modules imported
lazily. One build per session (into a temporary folder, with PyInstaller's analysis cache in
``build/pyinstaller`` shared with ``make package``), then each subcommand is run in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip(
    "PyInstaller", reason="PyInstaller is not installed: pip install -e '.[package]'"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bundle checks are Linux's"),
    # The build alone takes minutes on a loaded 2-core machine.
    pytest.mark.timeout(2400),
]

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "cxr-explain.spec"
SAMPLE = ROOT / "resources" / "samples" / "sample_cxr.dcm"
SHIPPED_MODELS = ROOT / "resources" / "models"
BUILD_TIMEOUT_S = 2000
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(ROOT / "build" / "pyinstaller"),
        str(SPEC),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # The build prints its size report; show it in the test log (pytest -s / -rA).
    print(done.stdout)
    return dist / "cxr-explain"


def run_app(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(
        [str(bundle / "cxr-explain"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def models_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """The shipped bundles when resources/models holds them (the default), else tiny ones."""
    if (SHIPPED_MODELS / "classifier").is_dir():
        return ()
    from engine.testing import write_tiny_models

    return ("--models", str(write_tiny_models(tmp_path_factory.mktemp("models"))))


def test_bundle_has_offscreen_and_xcb_platform_plugins(bundle: Path, policy) -> None:
    platforms = bundle / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms"
    present = {path.name for path in platforms.glob("*.so")}
    for name in policy.REQUIRED_QT_PLATFORMS:
        assert f"libq{name}.so" in present


def test_bundle_has_one_qt_binding_and_no_excluded_modules(bundle: Path) -> None:
    internal = bundle / "_internal"
    for name in ("PyQt5", "PyQt6", "PySide2", "tkinter", "SimpleITK", "matplotlib"):
        assert not (internal / name).exists(), name
    assert not list(internal.glob("**/_tkinter*.so"))


def test_bundle_holds_no_pickle_checkpoint(bundle: Path, policy) -> None:
    files = [path for path in bundle.rglob("*") if path.is_file() and not path.is_symlink()]
    suffixed = [p for p in files if p.suffix.lower() in policy.PICKLE_SUFFIXES]
    assert suffixed == []
    # Every file is checked for a pickle header, model files above all.
    pickled = [p for p in files if policy.is_pickle_file(p)]
    assert pickled == []


def test_bundle_ships_the_resources(bundle: Path) -> None:
    resources = bundle / "_internal" / "resources"
    assert (resources / "samples" / "sample_cxr.dcm").read_bytes() == SAMPLE.read_bytes()
    # Whatever resources/models holds (nothing until the default bundles land) is shipped.
    assert _model_files(resources / "models") == _model_files(SHIPPED_MODELS)


def _model_files(folder: Path) -> list[tuple[str, int]]:
    return sorted(
        (path.relative_to(folder).as_posix(), path.stat().st_size)
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )


def test_bundle_has_the_decoder_entry_points(bundle: Path) -> None:
    internal = bundle / "_internal"
    for distribution in ("pylibjpeg_openjpeg", "pylibjpeg_rle"):
        (info,) = internal.glob(f"{distribution}-*.dist-info")
        assert "pylibjpeg.pixel_data_decoders" in (info / "entry_points.txt").read_text()


def test_bundle_has_linux_desktop_files(bundle: Path) -> None:
    desktop = (bundle / "cxr-explain.desktop").read_text()
    assert "Exec=cxr-explain view %f" in desktop
    with Image.open(bundle / "cxr-explain.png") as icon:
        assert icon.size == (256, 256)
    assert os.access(bundle / "install.sh", os.X_OK)


def test_info_decodes_the_jpeg2000_sample(bundle: Path) -> None:
    done = run_app(bundle, "info", str(SAMPLE))
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["transfer_syntax_uid"] == "1.2.840.10008.1.2.4.90"  # JPEG 2000 lossless
    assert (info["rows"], info["columns"]) == (1024, 1024)
    low, high = info["value_range"]
    assert 0 <= low < high <= 4095
    assert "PatientName" not in done.stdout


def test_info_decodes_rle(bundle: Path, tmp_path: Path) -> None:
    from pydicom.uid import RLELossless

    from engine.testing import fake_dicom

    pixels = (np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) * 7) % 4096
    dataset = fake_dicom(pixels)
    dataset.compress(RLELossless)
    path = tmp_path / "rle.dcm"
    dataset.save_as(path, enforce_file_format=True)
    done = run_app(bundle, "info", str(path))
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["value_range"] == [float(pixels.min()), float(pixels.max())]


def test_bad_input_is_one_error_line(bundle: Path, tmp_path: Path) -> None:
    done = run_app(bundle, "info", str(tmp_path / "missing.dcm"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert done.stderr.count("\n") == 1


def test_explain_writes_a_gif(bundle: Path, tmp_path: Path, models_args) -> None:
    out = tmp_path / "out"
    done = run_app(bundle, "explain", str(SAMPLE), "--out", str(out), "--gif", *models_args)
    assert done.returncode == 0, done.stderr
    with Image.open(out / "explanation.gif") as gif:
        assert gif.format == "GIF"
        assert gif.n_frames > 1
        gif.seek(gif.n_frames - 1)
        assert np.asarray(gif.convert("L")).std() > 0
    assert json.loads((out / "stats.json").read_text())


def test_bench_encodes_jpeg2000_through_entry_points(bundle: Path, models_args) -> None:
    # bench writes its own JPEG 2000 file: only pylibjpeg-openjpeg encodes it, and pylibjpeg
    # finds that codec through its entry points (the collected dist-info metadata).
    done = run_app(bundle, "bench", "--size", "256", "--repeats", "1", *models_args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["image_size"] == 256


def test_view_self_test_offscreen(bundle: Path, models_args) -> None:
    done = run_app(bundle, "view", "--self-test", *models_args)
    assert done.returncode == 0, done.stderr


def test_phantoms_and_training_run_frozen(bundle: Path, tmp_path: Path) -> None:
    # Training reaches torch._dynamo, torch.onnx and sympy through the optimisers: the bundle
    # must hold them even though nothing else imports them.
    data = tmp_path / "phantoms"
    done = run_app(bundle, "phantoms", "--n", "4", "--out", str(data), "--seed", "1", "--paired")
    assert done.returncode == 0, done.stderr
    bundles = tmp_path / "bundles"
    done = run_app(
        bundle,
        "train",
        "classifier",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--bundle-dir",
        str(bundles),
        "--size",
        "32",
        "--epochs",
        "1",
        "--no-progress",
        "--width",
        "4",
        "--stages",
        "1",
        "--feature-dim",
        "8",
    )
    assert done.returncode == 0, done.stderr
    assert list(bundles.rglob("model.safetensors"))


def test_explain_writes_dicom_objects(bundle: Path, tmp_path: Path, models_args) -> None:
    # highdicom reads its copy of the standard's tables from package data (collected by the spec)
    out = tmp_path / "out"
    done = run_app(bundle, "explain", str(SAMPLE), "--out", str(out), "--dicom", *models_args)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (out / "dicom").iterdir())
    assert names == sorted(
        ["translated.dcm", "difference.dcm", "difference_map.dcm", "lungs.dcm", "report.dcm"]
    )


def test_pacs_echo_against_a_real_orthanc(bundle: Path, tmp_path: Path) -> None:
    from engine.pacs.testing import PACS_AET, orthanc_available, run_orthanc

    if not orthanc_available():
        pytest.skip("Orthanc is not installed (make test installs Debian's orthanc packages)")
    with run_orthanc(tmp_path) as orthanc:
        address = f"127.0.0.1:{orthanc.dicom_port}"
        done = run_app(bundle, "pacs", "echo", "--server", address, "--called-aet", PACS_AET)
        wrong = run_app(bundle, "pacs", "echo", "--server", address, "--called-aet", "NOPE")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["echo"] == "ok"
    assert wrong.returncode == 2
    assert "NOPE@127.0.0.1" in wrong.stderr  # rejected (or, under load, aborted) by the PACS
