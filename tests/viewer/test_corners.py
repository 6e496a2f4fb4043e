"""The panes' four corner annotations: apart from one another, readable on any background, and
free of the model identity (which the explanation panel and Help > About carry)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeMainWindow
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QTextDocument, QTextOption
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from engine.api import ExplanationResult, Radiograph, VoiPreset
from viewer.about_dialog import model_checksums
from viewer.corner_layout import Corner, CornerText, corner_rects
from viewer.engine_bridge import bridge
from viewer.image_pane import ImagePane
from viewer.main_window import MainWindow


def _corner_labels(pane: ImagePane) -> list[QLabel]:
    """The pane's corner texts that are shown."""
    labels = pane.findChildren(QLabel, "paneCorner")
    return [label for label in labels if label.isVisibleTo(pane) and label.text()]


def _hover(window: MainWindow, row: int, column: int) -> None:
    original = window.comparison.original
    original.graphics.scene().sigMouseMoved.emit(original.scene_point(row + 0.5, column + 0.5))


def _explained(
    make_main_window: MakeMainWindow,
    open_sample,
    tiny_result: tuple[Radiograph, ExplanationResult],
    **kwargs: object,
) -> MainWindow:
    window = make_main_window(**kwargs)
    open_sample(window)
    radiograph, result = tiny_result
    window.session.explanations.show_explanation(
        bridge(window.state.radiograph or radiograph, result)
    )
    return window


def _widest_line(label: QLabel) -> float:
    """Width of the label's widest line once wrapped to the label (a word longer than the label
    stays wider than it: the label cuts it)."""
    document = QTextDocument()
    document.setDocumentMargin(0)
    document.setDefaultTextOption(QTextOption(Qt.AlignmentFlag.AlignLeft))  # word wrap, as QLabel
    document.setDefaultFont(label.font())
    document.setHtml(label.text())
    document.setTextWidth(label.contentsRect().width())
    return document.idealWidth()


def _layout_problems(window: MainWindow) -> list[str]:
    """Every way the corner texts of the three panes collide or are cut off."""
    problems = []
    for name, pane in window.comparison.panes.items():
        labels = _corner_labels(pane)
        for label in labels:
            if not pane.rect().contains(label.geometry()):
                problems.append(f"{name}: {label.text()!r} leaves the pane")
            if label.heightForWidth(label.width()) > label.height():
                problems.append(f"{name}: {label.text()!r} is cut off at the bottom")
            if _widest_line(label) > label.contentsRect().width():
                problems.append(f"{name}: {label.text()!r} is cut off at the side")
        for first, second in itertools.combinations(labels, 2):
            if first.geometry().intersects(second.geometry()):
                problems.append(f"{name}: {first.text()!r} overlaps {second.text()!r}")
        if pane.colorbar is not None and pane.colorbar.isVisible():
            bar = pane.graphics.mapFromScene(pane.colorbar.sceneBoundingRect()).boundingRect()
            bar = QRect(pane.graphics.mapTo(pane, bar.topLeft()), bar.size())
            problems += [
                f"{name}: the colour bar covers {label.text()!r}"
                for label in labels
                if bar.intersects(label.geometry())
            ]
    return problems


@pytest.mark.parametrize("folder_open", [False, True])
@pytest.mark.parametrize("size", [(1400, 800), (1920, 1080)])
def test_corner_texts_never_overlap_or_get_cut_off(
    make_main_window: MakeMainWindow,
    open_sample,
    tiny_result: tuple[Radiograph, ExplanationResult],
    qtbot: QtBot,
    size: tuple[int, int],
    folder_open: bool,
) -> None:
    window = _explained(make_main_window, open_sample, tiny_result)
    window.resize(*size)
    window._folder_dock.setVisible(folder_open)
    # Every corner filled: overlay name, statistics, the readout under the cursor.
    panel = window.display_panel
    panel.attribution_combo.setCurrentIndex(panel.attribution_combo.findData("gradcam"))
    qtbot.waitUntil(lambda: window.size().toTuple() == size)
    _hover(window, 300, 200)
    assert all(len(_corner_labels(pane)) == 4 for pane in window.comparison.panes.values())

    def laid_out() -> None:
        assert _layout_problems(window) == []

    qtbot.waitUntil(laid_out)  # laid out on the next pass of the event loop


def test_the_model_identity_is_in_the_panel_and_about_not_in_the_panes(
    make_main_window: MakeMainWindow,
    open_sample,
    tiny_result: tuple[Radiograph, ExplanationResult],
    tiny_models_dir: Path,
) -> None:
    window = _explained(make_main_window, open_sample, tiny_result, models_dir=tiny_models_dir)
    label = tiny_result[1].model_label
    model_words = label.split()[1:]
    assert model_words
    assert all("@" in word for word in model_words)

    corner_texts = [
        label.text() for pane in window.comparison.panes.values() for label in _corner_labels(pane)
    ]
    assert corner_texts
    assert not [text for text in corner_texts if "@" in text or "Model" in text]

    row = window.explanation_panel.model_label
    assert "@" not in row.text()
    checksums = model_checksums(tiny_models_dir)
    assert len(checksums["classifier"]) == 64
    assert f"classifier: sha256 {checksums['classifier']}" in row.toolTip()

    window.help.show_about()
    dialog = window.help.about_dialog
    assert dialog is not None
    assert all(checksum in dialog.checksums_label.text() for checksum in checksums.values())
    assert dialog.in_use_label.isVisible()
    assert all(word in dialog.in_use_label.text() for word in model_words)
    dialog.close()


def _pixels(image: QImage, rect: QRect) -> np.ndarray:
    """(H, W, 3) uint8 RGB of ``rect`` in ``image``."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    stride = image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    rgb = data[:, : 3 * width].reshape(height, width, 3)
    return rgb[rect.top() : rect.bottom() + 1, rect.left() : rect.right() + 1]


def test_corner_text_is_outlined_and_reads_over_bright_anatomy(
    make_main_window: MakeMainWindow, open_sample, qtbot: QtBot
) -> None:
    window = make_main_window()
    open_sample(window)
    comparison = window.comparison
    pane = comparison.original
    # Everything white: a window far below the image's values, zoomed in past the black bands.
    low = float(np.nanmin(window.state.radiograph.pixels))
    comparison.apply_preset(VoiPreset("user", center=low - 1000.0, width=1.0))
    assert not comparison.inverted
    pane.view_box.scaleBy((0.2, 0.2))
    qtbot.waitUntil(lambda: len(_corner_labels(pane)) >= 2)

    image = pane.grab().toImage()
    for label in _corner_labels(pane):
        region = _pixels(image, label.geometry())
        assert np.median(region) > 200, "the image under the text is bright"
        dark = np.count_nonzero(region.max(axis=2) < 60)
        assert dark > 20, f"{label.text()!r} has no dark outline on a white image"


@pytest.mark.parametrize("size", [(220, 220), (260, 700), (640, 1000)])
def test_corner_rectangles_never_intersect(size: tuple[int, int]) -> None:
    width, height = size

    def text(natural: int, least: int, area: int) -> CornerText:
        return CornerText(natural, least, lambda w: max(14, area // max(w, 1)))

    texts = {
        Corner.TOP_LEFT: text(300, 120, 300 * 70),
        Corner.TOP_RIGHT: text(140, 90, 140 * 42),
        Corner.BOTTOM_LEFT: text(130, 70, 130 * 28),
        Corner.BOTTOM_RIGHT: text(260, 110, 260 * 56),
    }
    rects = corner_rects(width, height, texts)
    boxes = [QRect(*rect) for rect in rects.values()]
    for box in boxes:
        assert QRect(0, 0, width, height).contains(box)
    for first, second in itertools.combinations(boxes, 2):
        assert not first.intersects(second)
    # Each keeps at least its longest word where the width allows it.
    if width >= 300:
        assert all(rects[corner][2] >= texts[corner].min_width for corner in texts)
