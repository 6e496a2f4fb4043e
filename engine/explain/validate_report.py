"""The validation report's files: ``validation.json``, ``validation.md`` and the two
mean-change histograms."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.explain.plots import histogram_png
from engine.explain.validate_config import LOCALISATION_METRICS
from engine.explain.validate_findings import markdown_lines as finding_lines


def write_report(
    report: dict[str, Any], out: Path, extra_markdown: Sequence[str] = ()
) -> list[Path]:
    """``validation.json``, ``validation.md`` (plus ``extra_markdown`` lines, e.g. the FIGAN
    section) and the two mean-change histograms."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "validation.json"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    records = report["per_pair"]
    paths = [json_path]
    for direction in ("to_healthy", "to_disease"):
        plot = out / f"mean_change_{direction}.png"
        histogram_png(
            [r[f"change_{direction}"] for r in records],
            f"Mean lung change, {direction.replace('_', ' ')} (n = {len(records)})",
            "mean of (translated - original) in the lungs, intensity units",
        ).save(plot)
        paths.append(plot)
    markdown = out / "validation.md"
    text = markdown_report(report)
    if extra_markdown:
        text = text.rstrip("\n") + "\n\n" + "\n".join(extra_markdown) + "\n"
    markdown.write_text(text, encoding="utf-8")
    paths.append(markdown)
    return paths


def _range(bounds: list[float]) -> str:
    return f"{bounds[0]:g}-{bounds[1]:g}"


def cell(block: dict[str, Any] | None) -> str:
    """``mean [low, high] (n)`` of a statistic, or n/a."""
    if block is None or block.get("mean") is None:
        return "n/a"
    interval = block.get("ci95")
    spread = "" if interval is None else f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return f"{block['mean']:.3f}{spread} (n={block['n']})"


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _extras(phantoms: dict[str, Any]) -> str:
    """The anatomies' devices and breast shadows (absent from reports written before them)."""
    if "foreign_object_probability" not in phantoms:
        return ""
    return (
        f"; devices in {100 * phantoms['foreign_object_probability']:.0f} % and breast shadows "
        f"in {100 * phantoms['breast_probability']:.0f} % of anatomies"
    )


def markdown_report(report: dict[str, Any]) -> str:
    phantoms = report["phantoms"]
    lines = [
        "# Validation against phantom ground truth, through files",
        "",
        f"Models: `{report['model']}`; {report['n_pairs']} held-out paired phantoms (anatomy seeds "
        f"from {phantoms['seed']}; sizes {', '.join(str(s) for s in phantoms['sizes'])} px; "
        f"files {' / '.join(phantoms['formats'])}; findings "
        f"'{phantoms.get('findings', 'custom')}': ILO profusion 1-3, types "
        f"{'/'.join(phantoms['opacity_types'])}, haze {_range(phantoms['haze_range'])} in "
        f"{100 * phantoms['haze_probability']:.0f} % of findings, opacity "
        f"contrast {_range(phantoms['opacity_density_range'])} x{_extras(phantoms)}). Each "
        "file was read with "
        "`load_radiograph` and explained with `explain` (segmenter lungs), as the viewer does. "
        "Every number: mean [bootstrap 95 % interval over pairs] (n).",
        "",
        f"Images flagged out of distribution: {cell(report['share_out_of_distribution'])}.",
        "",
        *([f"Command: `{report['command']}`.", ""] if report.get("command") else []),
        "## Targets",
        "",
        "| target | value | goal | met |",
        "|---|---:|---|---|",
    ]
    for row in report["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        lines.append(f"| {row['target']} | {_value(row['value'])} | {row['goal']} | {met} |")
    lines += [
        "",
        f"## Classifiers at threshold {report['threshold']:g}",
        "",
        "| | accuracy | sensitivity | specificity | ROC AUC |",
        "|---|---|---|---|---|",
    ]
    for name in ("classifier", "oracle"):
        block = report[name]
        if block is None:
            continue
        lines.append(
            f"| {name} | {cell(block['accuracy'])} | {cell(block['sensitivity'])} | "
            f"{cell(block['specificity'])} | {cell(block['roc_auc'])} |"
        )
    lines += [
        "",
        "## Validity (docs/method.md): among qualifying images",
        "",
        "| direction | qualifying | valid as displayed | oracle valid | model-resolution "
        "(extra, not a verdict) | monotonic slider | COUT | faithful ceiling: classifier | "
        "faithful ceiling: oracle |",
        "|---|---:|---|---|---|---|---|---|---|",
    ]
    for name, block in report["validity"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {block['n_qualifying']} | "
            f"{cell(block['valid_displayed'])} | {cell(block['valid_oracle'])} | "
            f"{cell(block['valid_model_resolution_extra'])} | {cell(block['monotonic'])} | "
            f"{cell(block['cout'])} | {cell(block.get('valid_faithful_ceiling'))} | "
            f"{cell(block.get('valid_oracle_faithful_ceiling'))} |"
        )
    lines += [
        "",
        "Faithful ceiling: the same verdict on the planted change band-limited to the "
        "generator's grid, added as the pipeline adds a change. Toward healthy, validity above "
        "it comes from something other than removing the finding; toward disease any finding "
        "would do, so there it is a reference, not a bound.",
    ]
    lines += ["", "## Fidelity to the planted change", "", "| metric | value |", "|---|---|"]
    for key, block in report["fidelity"].items():
        text = cell(block) if isinstance(block, dict) or block is None else _value(block)
        lines.append(f"| {key.replace('_', ' ')} | {text} |")
    lines += [
        "",
        "## Localisation of the planted opacities (diseased images, toward healthy)",
        "",
        "| map | IoU at lesion area | ROC AUC | PR AUC | pointing game |",
        "|---|---|---|---|---|",
    ]
    for map_name, block in report["localisation"].items():
        lines.append(
            f"| {map_name.replace('_', ' ')} | "
            + " | ".join(cell(block[m]) for m in LOCALISATION_METRICS)
            + " |"
        )
    if report.get("by_finding"):
        lines += ["", *finding_lines(report["by_finding"], cell)]
    if report.get("integrated_gradients", "computed") != "computed":
        lines += ["", f"Integrated Gradients: {report['integrated_gradients']}."]
    lines += [
        "",
        "![to healthy](mean_change_to_healthy.png) ![to disease](mean_change_to_disease.png)",
        "",
    ]
    return "\n".join(lines)
