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
    for direction in ("to-healthy", "to-disease"):
        with Image.open(out / f"histogram_{direction}.png") as plot:
            assert plot.size == (640, 400)


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
