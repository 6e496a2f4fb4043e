"""What ``cxr-explain batch`` writes beside ``results.csv``: ``summary.json``, the cohort figures
and ``report.html`` (one self-contained page a research group can read or forward).

The summary holds, per direction, how many images qualified and how many of those the translation
flipped (validity as docs/method.md defines it), the oracle's verdict, the mean lung change and the
paper's darker / brighter shares; with class folders, the classifier's accuracy, sensitivity and
specificity at the threshold. The figures come from :mod:`engine.explain.cohort_figures`
(matplotlib) or, where matplotlib is missing (the desktop bundle), the plain Pillow histograms.

What it cannot show: the shares describe what the *model* changed, not the disease; on data
without class folders there is no accuracy, and validity says nothing about faithfulness.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.explain import cohort_figures
from engine.explain.plots import histogram_png
from engine.explain.request import Direction
from engine.inference.model_set import ModelSet

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
#: Folder names that carry a ground-truth label, and the label's positive flag.
FOLDER_TRUTH = {"healthy": False, "pneumoconiosis": True}


def write_cohort_report(
    out: Path, rows: list[dict[str, str]], models: ModelSet, threshold: float
) -> dict[str, Any]:
    """``summary.json``, the figures and ``report.html`` into ``out``; returns the summary."""
    summary = cohort_summary(rows, models, threshold)
    if cohort_figures.matplotlib_available():
        figures = cohort_figures.write_cohort_figures(rows, out, threshold)
        summary["figures"] = "matplotlib"
    else:
        figures = _pillow_histograms(rows, out)
        summary["figures"] = "basic (matplotlib is not installed)"
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (out / REPORT_FILE).write_text(report_html(summary, figures), encoding="utf-8")
    return summary


def cohort_summary(
    rows: list[dict[str, str]], models: ModelSet, threshold: float
) -> dict[str, Any]:
    ok = [r for r in rows if r["status"] == "ok"]
    summary: dict[str, Any] = {
        "model": models.version_label(),
        "threshold": threshold,
        "n_images": len({r["file"] for r in rows}),
        "classification": classification_summary(ok),
        "share_out_of_distribution": _share(
            [r["out_of_distribution"] == "true" for r in _one_row_per_file(ok)]
        ),
        "directions": {},
    }
    for direction in (Direction.TO_HEALTHY, Direction.TO_DISEASE):
        chosen = [r for r in ok if r["direction"] == direction.value]
        changes = [float(r["lung_mean_change"]) for r in chosen]
        qualifying = [r for r in chosen if r["qualifies"] == "true"]
        oracle = [r for r in chosen if r["oracle_valid"] in ("true", "false")]
        summary["directions"][direction.value] = {
            "n": len(changes),
            "n_qualifying": len(qualifying),
            "validity_among_qualifying": _share([r["valid"] == "true" for r in qualifying]),
            "n_oracle_qualifying": len(oracle),
            "oracle_validity": _share([r["oracle_valid"] == "true" for r in oracle]),
            "mean_lung_change": float(np.mean(changes)) if changes else None,
            "share_darker": _share([c < 0 for c in changes]),
            "share_brighter": _share([c > 0 for c in changes]),
        }
    summary["failed"] = [
        {"file": r["file"], "error": r["error"]} for r in rows if r["status"] != "ok"
    ]
    return summary


def _share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def _one_row_per_file(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    first: dict[str, dict[str, str]] = {}
    for row in rows:
        first.setdefault(row["file"], row)
    return list(first.values())


def classification_summary(rows: list[dict[str, str]]) -> dict[str, Any] | None:
    """Accuracy, sensitivity and specificity at the threshold of the images whose folder names
    their label (``healthy``/``pneumoconiosis``); None when no image does."""
    scored = [
        (FOLDER_TRUTH[r["folder_label"]], r["predicted_label"] == "pneumoconiosis")
        for r in _one_row_per_file(rows)
        if r["folder_label"] in FOLDER_TRUTH
    ]
    if not scored:
        return None
    positives = [called for truth, called in scored if truth]
    negatives = [not called for truth, called in scored if not truth]
    return {
        "n": len(scored),
        "n_positive": len(positives),
        "n_negative": len(negatives),
        "accuracy": _share([truth == called for truth, called in scored]),
        "sensitivity": _share(positives),
        "specificity": _share(negatives),
    }


def _pillow_histograms(rows: list[dict[str, str]], out: Path) -> list[Path]:
    paths = []
    for direction in (Direction.TO_HEALTHY, Direction.TO_DISEASE):
        changes = [
            float(r["lung_mean_change"])
            for r in rows
            if r["status"] == "ok" and r["direction"] == direction.value
        ]
        path = out / f"histogram_{direction.value}.png"
        histogram_png(
            changes,
            f"Per-image mean lung change, {direction.value} (n = {len(changes)})",
            cohort_figures.UNITS,
        ).save(path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- HTML


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _embedded(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(path.stem.replace("_", " "))
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"></figure>'


def report_html(summary: dict[str, Any], figures: Sequence[Path]) -> str:
    """One page: what was run, the classifier against class folders, the per-direction table,
    how many images failed and the figures (embedded, so the page travels alone). No file
    names: the page is made to be forwarded."""
    directions = [
        [
            name.replace("-", " "),
            str(block["n"]),
            str(block["n_qualifying"]),
            _percent(block["validity_among_qualifying"]),
            _percent(block["oracle_validity"]),
            _number(block["mean_lung_change"]),
            _percent(block["share_darker"]),
            _percent(block["share_brighter"]),
        ]
        for name, block in summary["directions"].items()
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>cxr-explain cohort report</title>',
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
        "padding:.3em .6em;text-align:right}th{background:#eee}img{max-width:100%}"
        ".note{color:#555}</style></head><body>",
        "<h1>Cohort report</h1>",
        f"<p>Models: <code>{html.escape(str(summary['model']))}</code>; "
        f"{summary['n_images']} images; threshold {summary['threshold']:g}; "
        f"flagged out of distribution: {_percent(summary['share_out_of_distribution'])}.</p>",
    ]
    classification = summary.get("classification")
    if classification is not None:
        parts += [
            "<h2>Classifier against the class folders</h2>",
            _table(
                ["images", "healthy", "pneumoconiosis", "accuracy", "sensitivity", "specificity"],
                [
                    [
                        str(classification["n"]),
                        str(classification["n_negative"]),
                        str(classification["n_positive"]),
                        _percent(classification["accuracy"]),
                        _percent(classification["sensitivity"]),
                        _percent(classification["specificity"]),
                    ]
                ],
            ),
        ]
    parts += [
        "<h2>Counterfactuals per direction</h2>",
        _table(
            [
                "direction",
                "images",
                "qualifying",
                "valid (of qualifying)",
                "oracle valid",
                "mean lung change",
                "darker",
                "brighter",
            ],
            directions,
        ),
        '<p class="note">Qualifying: the original sits on the source side of the threshold. '
        "Valid: the translated image, as shown, crosses it. The shares describe what the model "
        "changed, not the disease; synthetic or research use only, not for diagnosis.</p>",
    ]
    failed = summary.get("failed") or []
    if failed:
        # Counted, not named: a page made to be forwarded carries no file names (they may hold a
        # patient's name); results.csv beside it lists each file with its error.
        parts += [
            f"<h2>Not explained: {len(failed)}</h2>",
            f'<p class="note">{len(failed)} image(s) could not be explained; results.csv lists '
            "each file with its one-line error.</p>",
        ]
    parts += ["<h2>Figures</h2>", *(_embedded(path) for path in figures), "</body></html>"]
    return "\n".join(parts) + "\n"
