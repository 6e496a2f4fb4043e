"""The cohort report: figures that show the rows' numbers, a page that travels alone, and the
plain histograms where matplotlib is missing (the desktop bundle)."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from engine.explain import cohort_figures, cohort_report


class _Models:
    """What the report reads of a model set: its version label."""

    def version_label(self) -> str:
        return "test-models"


def _row(file, direction, change, *, label="healthy", p=0.2, p_after=0.7):
    row = {
        "file": file,
        "folder_label": label,
        "status": "ok",
        "error": "",
        "probability": str(p),
        "predicted_label": "pneumoconiosis" if p >= 0.5 else "healthy",
        "direction": direction,
        "probability_translated": str(p_after),
        "qualifies": "true",
        "valid": str((p_after >= 0.5) != (p >= 0.5)).lower(),
        "oracle_valid": "",
        "lung_mean_change": str(change),
        "out_of_distribution": "false",
    }
    for zone, factor in (("upper", 1.5), ("middle", 1.0), ("lower", 0.5)):
        row[f"{zone}_zone_mean_change"] = str(change * factor)
    return row


def _rows():
    rng = np.random.default_rng(0)
    rows = [
        _row(f"h{i}.png", "to-disease", float(c)) for i, c in enumerate(rng.normal(0.02, 0.01, 30))
    ]
    rows += [
        _row(f"d{i}.png", "to-healthy", float(c), label="pneumoconiosis", p=0.9, p_after=0.3)
        for i, c in enumerate(rng.normal(-0.03, 0.01, 20))
    ]
    rows.append({"file": "Doe_Jane.png", "status": "error", "error": "not an image <b>"})
    return rows


def _colour_share(path, colour):
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
    return float(np.mean(np.abs(pixels - np.asarray(colour)).sum(axis=1) < 30))


def test_the_report_holds_the_rows_numbers_and_embeds_its_figures(tmp_path):
    rows = _rows()
    summary = cohort_report.write_cohort_report(tmp_path, rows, _Models(), 0.5)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == summary
    assert summary["n_images"] == 51
    assert summary["directions"]["to-healthy"]["n"] == 20
    assert summary["directions"]["to-healthy"]["share_darker"] == pytest.approx(
        np.mean([float(r["lung_mean_change"]) < 0 for r in rows[30:50]])
    )
    page = (tmp_path / "report.html").read_text()
    assert "Not explained: 1" in page
    assert "Doe_Jane" not in page  # a forwarded page names no file (names may identify)
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 4
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as figure:
            assert figure.format == "PNG"


def test_the_histograms_colour_darker_and_brighter_images_apart(tmp_path):
    rows = _rows()
    cohort_figures.write_cohort_figures(rows, tmp_path, 0.5)
    blue, red = (0x3F, 0x6F, 0xC8), (0xC8, 0x50, 0x3F)
    # Toward disease the changes are mostly positive (red bars), toward healthy negative (blue).
    to_disease = tmp_path / "histogram_to-disease.png"
    to_healthy = tmp_path / "histogram_to-healthy.png"
    assert _colour_share(to_disease, red) > 3 * _colour_share(to_disease, blue)
    assert _colour_share(to_healthy, blue) > 3 * _colour_share(to_healthy, red)
    assert _colour_share(tmp_path / "zone_change.png", blue) > 0.001


def test_without_matplotlib_the_plain_histograms_are_written(tmp_path, monkeypatch):
    monkeypatch.setattr(cohort_figures, "matplotlib_available", lambda: False)
    summary = cohort_report.write_cohort_report(tmp_path, _rows(), _Models(), 0.5)
    assert summary["figures"].startswith("basic")
    assert not (tmp_path / "zone_change.png").exists()
    with Image.open(tmp_path / "histogram_to-healthy.png") as plot:
        assert plot.size == (640, 400)
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") == 2
