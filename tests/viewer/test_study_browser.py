"""The study browser: files grouped by DICOM study and series, with thumbnails (worker-built)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from PIL import Image
from pytestqt.qtbot import QtBot

from engine.testing import fake_dicom
from viewer.folder_panel import OTHER_TITLE, UNREADABLE_TITLE
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
        window.open_folder(str(folder))

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
        window.open_folder(str(folder))
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
    window.open_folder(str(folder))
    with qtbot.waitSignal(window.folder_scanned, timeout=LOAD_TIMEOUT_MS):
        window.open_folder(str(second))
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=LOAD_TIMEOUT_MS)
    assert scanned == [str(second)]
    assert window.folder_panel.file_names() == ["only.png"]
