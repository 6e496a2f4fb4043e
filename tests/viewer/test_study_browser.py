"""The study browser: files grouped by DICOM study and series, with thumbnails (worker-built)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from PIL import Image
from pytestqt.qtbot import QtBot

from engine.testing import fake_dicom
from viewer.folder_panel import OTHER_TITLE, UNREADABLE_TITLE, list_image_candidates
from viewer.study_browser import Group, describe_image, thumbnail

STUDY_A, STUDY_B = "1.2.826.0.1.3680043.8.498.10", "1.2.826.0.1.3680043.8.498.20"
SERIES_A1, SERIES_A2, SERIES_B1 = (f"{STUDY_A}.1", f"{STUDY_A}.2", f"{STUDY_B}.1")
SECRET_NAME = "Doe^Janet"


def _dicom(path: Path, study: str, series: str) -> None:
    pixels = (np.arange(40 * 30, dtype=np.uint16).reshape(40, 30) * 37) % 4096
    identity = {
        "PatientName": SECRET_NAME,
        "StudyInstanceUID": study,
        "SeriesInstanceUID": series,
        "StudyDescription": "CHEST PA SECRET",
    }
    fake_dicom(pixels, identity).save_as(path, enforce_file_format=True)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _dicom(tmp_path / "a1.dcm", STUDY_A, SERIES_A1)
    _dicom(tmp_path / "a2.dcm", STUDY_A, SERIES_A2)
    _dicom(tmp_path / "a3", STUDY_A, SERIES_A1)  # extensionless DICOM
    _dicom(tmp_path / "b1.dcm", STUDY_B, SERIES_B1)
    Image.fromarray(np.full((20, 20), 128, np.uint8)).save(tmp_path / "photo.png")
    (tmp_path / "junk.dcm").write_bytes(b"not an image")
    return tmp_path


def test_thumbnail_keeps_the_aspect_ratio() -> None:
    display = np.linspace(0.0, 1.0, 400 * 200, dtype=np.float32).reshape(400, 200)
    small = thumbnail(display, 96)
    assert small.dtype == np.uint8
    assert max(small.shape) <= 96
    assert small.shape[0] == 2 * small.shape[1]
    assert small[0, 0] < small[-1, -1]


def test_describe_image_groups_without_identifiers(folder: Path) -> None:
    entry = describe_image(folder / "a1.dcm")
    assert entry.group is Group.STUDY
    assert (entry.study_key, entry.series_key) == (STUDY_A, SERIES_A1)
    assert SECRET_NAME not in entry.description
    assert "SECRET" not in entry.description
    assert entry.thumbnail is not None
    assert describe_image(folder / "photo.png").group is Group.OTHER
    junk = describe_image(folder / "junk.dcm")
    assert junk.group is Group.UNREADABLE
    assert junk.error


def test_folder_is_grouped_by_study_and_series_with_thumbnails(
    make_main_window: MakeMainWindow, qtbot: QtBot, folder: Path
) -> None:
    window = make_main_window()
    with qtbot.waitSignals([window.folder_listed, window.folder_scanned], timeout=LOAD_TIMEOUT_MS):
        window.session.open_folder(str(folder))

    panel = window.folder_panel
    assert panel.group_titles() == [
        "Study 1 (3 images)",
        "Study 2 (1 image)",
        f"{OTHER_TITLE} (1 image)",
        f"{UNREADABLE_TITLE} (1 image)",
    ]
    study_1 = panel.tree.topLevelItem(0)
    assert [study_1.child(i).text(0) for i in range(study_1.childCount())] == [
        "Series 1",
        "Series 2",
    ]
    assert panel.file_names() == ["a1.dcm", "a3", "a2.dcm", "b1.dcm", "photo.png", "junk.dcm"]
    assert panel.thumbnail_count() == 5  # every readable image
    texts = [panel.file_item(name).text(0) for name in panel.file_names()]
    assert not [text for text in texts if "Doe" in text or "SECRET" in text]


def test_activating_a_thumbnail_opens_the_image(
    make_main_window: MakeMainWindow, qtbot: QtBot, folder: Path
) -> None:
    window = make_main_window()
    with qtbot.waitSignal(window.folder_scanned, timeout=LOAD_TIMEOUT_MS):
        window.session.open_folder(str(folder))
    item = window.folder_panel.file_item("b1.dcm")
    with qtbot.waitSignal(window.image_opened, timeout=LOAD_TIMEOUT_MS) as signal:
        window.folder_panel.tree.itemActivated.emit(item, 0)
    assert signal.args == [str(folder / "b1.dcm")]


def test_a_newer_folder_supersedes_the_scan(
    make_main_window: MakeMainWindow, qtbot: QtBot, folder: Path, tmp_path_factory
) -> None:
    second = tmp_path_factory.mktemp("second")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(second / "only.png")
    window = make_main_window()
    scanned: list[str] = []
    window.folder_scanned.connect(scanned.append)
    window.session.open_folder(str(folder))
    with qtbot.waitSignal(window.folder_scanned, timeout=LOAD_TIMEOUT_MS):
        window.session.open_folder(str(second))
    qtbot.waitUntil(lambda: not window.session.jobs.busy, timeout=LOAD_TIMEOUT_MS)
    assert scanned == [str(second)]
    assert window.folder_panel.file_names() == ["only.png"]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A folder like ``cxr-explain phantoms`` writes (class folders, masks, lesions, manifests)
    with a DICOM study in series folders beside it."""
    root = tmp_path / "dataset"
    for relative in ("healthy/p0.png", "healthy/p1.png", "pneumoconiosis/p2.png"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((24, 20), 100, np.uint8)).save(root / relative)
    (root / "masks").mkdir()
    Image.fromarray(np.zeros((24, 20), np.uint8)).save(root / "masks" / "p0_lung.png")
    (root / "lesions").mkdir()
    Image.fromarray(np.zeros((24, 20), np.uint8)).save(root / "lesions" / "p0.tiff")
    (root / "manifest.csv").write_text("id,label\np0,healthy\n")
    (root / "manifest.json").write_text("{}\n")
    (root / ".cache").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / ".cache" / "hidden.png")
    for series, name in ((SERIES_A1, "i1.dcm"), (SERIES_A1, "i2.dcm"), (SERIES_A2, "i3")):
        folder = root / "study" / f"series-{series[-1]}"
        folder.mkdir(parents=True, exist_ok=True)
        _dicom(folder / name, STUDY_A, series)
    return root


def test_folders_are_listed_recursively_without_masks_lesions_or_manifests(dataset: Path) -> None:
    files = [path.relative_to(dataset).as_posix() for path in list_image_candidates(dataset)]
    assert files == [
        "healthy/p0.png",
        "healthy/p1.png",
        "pneumoconiosis/p2.png",
        "study/series-1/i1.dcm",
        "study/series-1/i2.dcm",
        "study/series-2/i3",
    ]


def test_open_folder_groups_subfolders_and_opens_the_first_image(
    make_main_window: MakeMainWindow, qtbot: QtBot, dataset: Path
) -> None:
    window = make_main_window()
    opened: list[str] = []
    window.image_opened.connect(opened.append)
    with qtbot.waitSignals([window.image_opened, window.folder_scanned], timeout=LOAD_TIMEOUT_MS):
        window.session.open_folder(str(dataset))

    panel = window.folder_panel
    assert panel.group_titles() == [
        "Study 1 (3 images)",
        "healthy (2 images)",
        "pneumoconiosis (1 image)",
    ]
    study = panel.tree.topLevelItem(0)
    assert [study.child(i).text(0) for i in range(study.childCount())] == ["Series 1", "Series 2"]
    assert panel.file_names() == ["i1.dcm", "i2.dcm", "i3", "p0.png", "p1.png", "p2.png"]
    assert opened == [str(dataset / "healthy" / "p0.png")]
    assert window.state.path == dataset / "healthy" / "p0.png"
    assert window.comparison.original.has_image
