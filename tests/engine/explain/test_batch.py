"""``batch``: a folder with one corrupt file completes, lists the error, and resumes."""

from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image

from engine.cli.main import main
from engine.explain.batch import RESULTS_FILE


def _cohort(root):
    rows, columns = np.mgrid[0:40, 0:32]
    for label, lung_value in (("healthy", 60), ("pneumoconiosis", 110)):
        (root / label).mkdir(parents=True)
        for index in range(2):
            image = np.full((40, 32), 170, np.uint8)
            image[((columns - 10) / 6.0) ** 2 + ((rows - 20) / 12.0) ** 2 < 1] = lung_value + index
            Image.fromarray(image).save(root / label / f"case{index}.png")
    (root / "pneumoconiosis" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def test_batch_lists_the_bad_file_and_finishes(tmp_path, tiny_models, capsys):
    root = _cohort(tmp_path / "cohort")
    out = tmp_path / "out"
    code = main(["batch", str(root), "--out", str(out), "--models", str(tiny_models.directory)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"images": 5, "failed": 1, "out": str(out)}
    with (out / RESULTS_FILE).open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4 * 2 + 1  # two directions per good image, one row for the bad one
    broken = [row for row in rows if row["status"] == "error"]
    assert broken[0]["file"] == "pneumoconiosis/broken.png"
    assert broken[0]["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["directions"]["to-healthy"]["n"] == 4
    # With both directions, each good image qualifies in exactly one of them.
    ok = [row for row in rows if row["status"] == "ok"]
    for file in {row["file"] for row in ok}:
        flags = sorted(row["qualifies"] for row in ok if row["file"] == file)
        assert flags == ["false", "true"], file
    for row in ok:
        assert row["valid"] == "false" or row["qualifies"] == "true"
        assert "NOT A COUNTERFACTUAL" in row["caution"]  # the other direction's, on every row
        assert row["kept_share"] == ""  # the tiny models have no device segmenter
    directions = summary["directions"]
    assert directions["to-healthy"]["n_qualifying"] + directions["to-disease"]["n_qualifying"] == 4
    # The class folders are the truth: the classifier is scored against them.
    classification = summary["classification"]
    assert classification["n"] == 4
    assert classification["n_positive"] == classification["n_negative"] == 2
    called_positive = sum(
        1 for row in ok if row["direction"] == "to-healthy" and row["qualifies"] == "true"
    )
    truly_positive = sum(
        1
        for row in ok
        if row["direction"] == "to-healthy"
        and row["qualifies"] == "true"
        and row["folder_label"] == "pneumoconiosis"
    )
    assert classification["sensitivity"] == truly_positive / 2
    assert classification["specificity"] == (2 - (called_positive - truly_positive)) / 2
    assert summary["failed"][0]["file"] == "pneumoconiosis/broken.png"
    assert summary["figures"] == "matplotlib"
    for name in ("histogram_to-healthy", "histogram_to-disease", "zone_change"):
        with Image.open(out / f"{name}.png") as plot:
            assert min(plot.size) > 300
    page = (out / "report.html").read_text()
    assert "Not explained: 1" in page
    assert "broken.png" not in page  # counted, not named: the page is made to be forwarded
    assert page.count("data:image/png;base64,") == 4  # every figure travels inside the page


def test_zone_columns_split_the_lung_change(tmp_path, tiny_models, monkeypatch):
    """Zones split the lung field, so the lung's mean change is a weighted mean of the zones'
    (the tiny segmenter finds no lungs: the cohort's own lung ellipse stands in for it)."""
    from engine.explain import pipeline as pipeline_module

    root = _cohort(tmp_path / "cohort")
    (root / "pneumoconiosis" / "broken.png").unlink()

    def ellipse_lungs(model, intensity):
        lungs = intensity < 0.55
        return lungs, np.zeros(lungs.shape, bool), 0.0

    monkeypatch.setattr(pipeline_module, "segment_lungs_checked", ellipse_lungs)
    out = tmp_path / "out"
    models = str(tiny_models.directory)
    assert main(["batch", str(root), "--out", str(out), "--models", models]) == 0
    with (out / RESULTS_FILE).open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 8
    for row in rows:
        zones = [float(row[f"{zone}_zone_mean_change"]) for zone in ("upper", "middle", "lower")]
        lung = float(row["lung_mean_change"])
        assert np.isfinite(zones).all()
        assert np.isfinite(lung)
        assert min(zones) - 1e-6 <= lung <= max(zones) + 1e-6
        assert len(set(zones)) > 1  # three regions, not one number copied


def test_batch_resumes_without_redoing_finished_images(tmp_path, tiny_models, monkeypatch):
    root = _cohort(tmp_path / "cohort")
    out = tmp_path / "out"
    args = ["batch", str(root), "--out", str(out), "--models", str(tiny_models.directory)]
    assert main(args) == 0
    first = (out / RESULTS_FILE).read_text()
    from engine.explain import batch

    calls = []
    monkeypatch.setattr(batch, "explain", lambda *a, **k: calls.append(a))
    assert main(args) == 0
    assert calls == []
    assert (out / RESULTS_FILE).read_text() == first


def test_batch_refuses_to_resume_a_results_file_of_other_columns(tmp_path, tiny_models, capsys):
    root = _cohort(tmp_path / "cohort")
    out = tmp_path / "out"
    out.mkdir()
    (out / RESULTS_FILE).write_text("file,folder_label,status,error,probability,valid\n")
    args = ["batch", str(root), "--out", str(out), "--models", str(tiny_models.directory)]
    assert main(args) == 2
    assert "another version" in capsys.readouterr().err
