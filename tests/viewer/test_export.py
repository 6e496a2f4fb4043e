"""Exports beyond the default GIF: the dialog, PNG snapshot, statistics CSV/JSON, GIF options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from PIL import Image
from pytestqt.qtbot import QtBot

from engine.api import ExplanationResult, Radiograph, load_radiograph
from engine.testing import fake_dicom
from viewer.engine_bridge import bridge
from viewer.export import (
    DEFAULT_NAMES,
    ExportKind,
    ExportRequest,
    GifExportOptions,
    identifier_header,
)
from viewer.export_dialog import ExportDialog
from viewer.image_pane import Corner
from viewer.main_window import MainWindow

FAKE_IDENTITY = {
    "PatientName": "Doe^Janet",
    "PatientID": "PID-778899",
    "AccessionNumber": "ACC-123456",
    # Not under pydicom's UID root, which every generated UID starts with: a prefix of it would
    # be "found" in any DICOM object with a new UID.
    "StudyInstanceUID": "1.2.826.0.1.3680043.9.7316.1.5",
}


def _export(window: MainWindow, qtbot: QtBot, path: Path, request: ExportRequest) -> Path:
    with qtbot.waitSignal(window.exported, timeout=LOAD_TIMEOUT_MS) as signal:
        window.session.exports.export_to(str(path), request)
    return Path(signal.args[0])


def _no_temporary_files(folder: Path) -> bool:
    return not [entry for entry in folder.iterdir() if entry.name.startswith(".")]


def test_dialog_defaults_protect_identifiers(qtbot: QtBot) -> None:
    dialog = ExportDialog(frame_count=5, has_explanation=True, has_identifiers=True)
    qtbot.addWidget(dialog)
    request = dialog.request()
    assert request.kind is ExportKind.GIF
    assert request.gif.include_identifiers is False
    assert (request.gif.first_frame, request.gif.last_frame) == (0, 4)

    dialog.last_frame_spin.setValue(2)
    dialog.first_frame_spin.setValue(4)  # pushes the last frame along: the range stays valid
    assert (dialog.request().gif.first_frame, dialog.request().gif.last_frame) == (3, 3)
    dialog.set_kind(ExportKind.CSV)
    assert not dialog.gif_group.isVisibleTo(dialog)


def test_dialog_without_explanation_offers_only_the_snapshot(qtbot: QtBot) -> None:
    dialog = ExportDialog(frame_count=0, has_explanation=False, has_identifiers=False)
    qtbot.addWidget(dialog)
    assert dialog.kind is ExportKind.PNG
    model = dialog.kind_combo.model()
    enabled = {
        ExportKind(dialog.kind_combo.itemData(row)): model.item(row).isEnabled()
        for row in range(dialog.kind_combo.count())
    }
    assert enabled == {
        ExportKind.GIF: False,
        ExportKind.PNG: True,
        ExportKind.CSV: False,
        ExportKind.JSON: False,
        ExportKind.DICOM: False,
    }
    assert not dialog.identifiers_check.isEnabled()


def test_ctrl_e_dialog_then_chosen_path_writes_the_file(
    explained_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    suggestions: list[str] = []

    def choose(_parent: object, kind: ExportKind, suggested: str) -> str:
        suggestions.append(suggested)
        return str(tmp_path / "chosen")

    explained_window.session.exports.choose_export_path = choose
    qtbot.keyClick(explained_window, "E", modifier=qtbot_control())
    dialog = explained_window.session.exports.export_dialog
    assert dialog is not None
    dialog.set_kind(ExportKind.JSON)
    with qtbot.waitSignal(explained_window.exported, timeout=LOAD_TIMEOUT_MS) as signal:
        dialog.accept()
    assert Path(suggestions[0]).name == DEFAULT_NAMES[ExportKind.JSON]
    assert signal.args == [str(tmp_path / "chosen.json")]
    assert json.loads((tmp_path / "chosen.json").read_text())["regions"]


def qtbot_control():
    from PySide6.QtCore import Qt

    return Qt.KeyboardModifier.ControlModifier


def test_png_snapshot_shows_the_three_panes(
    explained_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    written = _export(explained_window, qtbot, tmp_path / "shot", ExportRequest(ExportKind.PNG))
    assert written == tmp_path / "shot.png"
    with Image.open(written) as image:
        assert image.format == "PNG"
        central = explained_window.centralWidget()
        ratio = central.devicePixelRatioF()
        assert image.size == (round(central.width() * ratio), round(central.height() * ratio))
        assert not {key for key in image.info if key not in ("dpi", "gamma", "srgb")}
        pixels = np.asarray(image.convert("L"))
    # Three panes side by side: each third of the snapshot has image content.
    width = pixels.shape[1]
    for third in range(3):
        assert pixels[:, third * width // 3 : (third + 1) * width // 3].std() > 5
    assert _no_temporary_files(tmp_path)


def test_statistics_csv_and_json_exports(
    explained_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    csv_path = _export(explained_window, qtbot, tmp_path / "s.csv", ExportRequest(ExportKind.CSV))
    json_path = _export(explained_window, qtbot, tmp_path / "s", ExportRequest(ExportKind.JSON))
    report = explained_window.statistics_panel.report
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("region,n_pixels,mean_original")
    assert len(lines) == 1 + len(report.regions)
    content = json.loads(json_path.read_text())
    assert content["units"] == report.units
    assert _no_temporary_files(tmp_path)


def test_gif_options_frame_range_rate_and_size(
    explained_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    options = GifExportOptions(fps=5, first_frame=1, last_frame=3, max_width=300)
    written = _export(
        explained_window, qtbot, tmp_path / "clip.gif", ExportRequest(ExportKind.GIF, options)
    )
    with Image.open(written) as gif:
        # Three frames played forward and back (ping-pong): 1 2 3 2.
        assert gif.n_frames == 4
        assert gif.info["duration"] == 200
        assert gif.width <= 300


def test_gif_frame_range_outside_the_frames_is_a_clear_error(
    explained_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    options = GifExportOptions(first_frame=7, last_frame=9)
    with qtbot.waitSignal(explained_window.error_reported, timeout=LOAD_TIMEOUT_MS) as signal:
        explained_window.session.exports.export_to(
            str(tmp_path / "x.gif"), ExportRequest(ExportKind.GIF, options)
        )
    assert "outside the 5 frames" in signal.args[0]
    assert not (tmp_path / "x.gif").exists()
    explained_window.errors.dialog.close()


@pytest.fixture
def identified_window(
    make_main_window: MakeMainWindow,
    qtbot: QtBot,
    tmp_path: Path,
    tiny_result: tuple[Radiograph, ExplanationResult],
) -> MainWindow:
    pixels = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 7) % 4096
    path = tmp_path / "study" / "image.dcm"
    path.parent.mkdir()
    fake_dicom(pixels, FAKE_IDENTITY).save_as(path, enforce_file_format=True)
    window = make_main_window()
    with qtbot.waitSignal(window.image_opened, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(path))
    # The sample's explanation shown over this image: only the identity matters here.
    _radiograph, result = tiny_result
    window.session.explanations.show_explanation(
        bridge(load_radiograph(path), _resized(result, pixels.shape))
    )
    return window


def _resized(result: ExplanationResult, shape: tuple[int, int]) -> ExplanationResult:
    import dataclasses

    from engine.explain.frames import StoredImages

    def crop(array: np.ndarray) -> np.ndarray:
        out = np.ascontiguousarray(array[: shape[0], : shape[1]])
        out.setflags(write=False)
        return out

    primary = result.primary
    frames = primary.frames
    cropped_frames = tuple(
        dataclasses.replace(frame, source=StoredImages(crop(frame.image), crop(frame.difference)))
        for frame in frames.frames
    )
    counterfactual = dataclasses.replace(
        primary,
        translated=crop(primary.translated),
        difference=crop(primary.difference),
        frames=dataclasses.replace(frames, frames=cropped_frames),
    )
    return dataclasses.replace(
        result,
        original=crop(result.original),
        right_lung=crop(result.right_lung),
        left_lung=crop(result.left_lung),
        counterfactuals=(counterfactual,),
        attributions=None,
    )


def test_exports_leave_identifiers_out_unless_asked(
    identified_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    secrets = [value.encode() for value in FAKE_IDENTITY.values()]
    out = tmp_path / "out"
    plain = [
        _export(identified_window, qtbot, out / DEFAULT_NAMES[kind], ExportRequest(kind))
        for kind in ExportKind
    ]
    files = [f for path in plain for f in (sorted(path.rglob("*.*")) if path.is_dir() else [path])]
    assert len(files) == len(plain) - 1 + 5  # the DICOM export is a folder of five objects
    for path in files:
        data = path.read_bytes()
        assert not [secret for secret in secrets if secret in data], path.name
        assert "Doe" not in path.name
        assert "PID" not in path.name

    asked = ExportRequest(ExportKind.GIF, GifExportOptions(include_identifiers=True))
    with_ids = _export(identified_window, qtbot, out / "with_ids.gif", asked)
    # Burned in as pixels, so compare the rendered header band with the plain GIF's.
    with Image.open(with_ids) as a, Image.open(out / "explanation.gif") as b:
        assert a.size == b.size
        assert np.any(np.asarray(a.convert("L")) != np.asarray(b.convert("L")))


def test_identifier_header_uses_only_present_fields() -> None:
    from engine.api import PatientIdentity

    identity = PatientIdentity((("PatientID", "PID-1"), ("StudyInstanceUID", "1.2.3")))
    assert identifier_header(identity) == "PID-1"
    assert identifier_header(PatientIdentity()) is None
    assert identifier_header(None) is None


def test_png_snapshot_leaves_out_the_crosshair_and_the_readout(
    explained_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    comparison = explained_window.comparison
    without = _export(explained_window, qtbot, tmp_path / "plain", ExportRequest(ExportKind.PNG))
    original = comparison.original
    original.graphics.scene().sigMouseMoved.emit(original.scene_point(300.5, 200.5))
    assert all(pane.crosshair_visible() for pane in comparison.panes.values())
    readouts = [pane.corner_text(Corner.BOTTOM_LEFT) for pane in comparison.panes.values()]
    assert all("Row 300" in text for text in readouts)

    hovered = _export(explained_window, qtbot, tmp_path / "hover", ExportRequest(ExportKind.PNG))

    with Image.open(without) as first, Image.open(hovered) as second:
        difference = np.abs(np.asarray(first, np.int16) - np.asarray(second, np.int16))
    assert np.count_nonzero(difference) == 0, "the snapshot shows cursor graphics"
    # ... and they are back on screen after the grab.
    assert all(pane.crosshair_visible() for pane in comparison.panes.values())
    for pane, text in zip(comparison.panes.values(), readouts, strict=True):
        assert pane.corner_text(Corner.BOTTOM_LEFT) == text
        assert pane.corner_rect(Corner.BOTTOM_LEFT) is not None


def test_dicom_export_is_de_identified_unless_asked_to_keep_the_study(
    explained_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    import pydicom

    identity = explained_window.state.radiograph.identity.as_dict()
    dialog = ExportDialog(frame_count=5, has_explanation=True, has_identifiers=True)
    qtbot.addWidget(dialog)
    dialog.set_kind(ExportKind.DICOM)
    assert dialog.dicom_group.isVisibleTo(dialog)
    assert not dialog.gif_group.isVisibleTo(dialog)
    assert dialog.request().keep_identity is False

    written = _export(explained_window, qtbot, tmp_path / "a", dialog.request()) / "dicom"
    report = pydicom.dcmread(written / "report.dcm")
    assert report.PatientIdentityRemoved == "YES"
    assert report.StudyInstanceUID != identity["StudyInstanceUID"]
    assert identity["PatientID"].encode() not in (written / "translated.dcm").read_bytes()

    dialog.keep_identity_check.setChecked(True)
    kept = _export(explained_window, qtbot, tmp_path / "b", dialog.request()) / "dicom"
    report = pydicom.dcmread(kept / "report.dcm")
    assert report.StudyInstanceUID == identity["StudyInstanceUID"]
    assert report.PatientID == identity["PatientID"]
    assert _no_temporary_files(kept)
