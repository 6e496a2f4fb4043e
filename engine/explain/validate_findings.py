"""The validation report by finding: how the models do on each ILO profusion category and type,
and on anatomies with devices or breast shadows.

A pooled sensitivity hides which findings are missed: on the shipped models the misses are the
mildest ones (profusion 1, types p and q), while every profusion 3 finding is called. This section
breaks the diseased images of ``cxr-explain validate`` down by the finding planted in them, so a
reader sees where the classifier's detection limit lies and how many images each number rests on.

What it cannot show: a group of a few pairs has a wide interval (it is printed); the groups overlap
(a pair counts once per grouping: profusion, type, subtle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.phantoms import DiseaseParams
from engine.phantoms.population import PopulationExtras

#: A finding this mild is "subtle" (issue 11's wording): profusion 1, no haze, contrast below 1.5.
SUBTLE_DENSITY = 1.5

StatisticFn = Callable[[Sequence[float], int], dict[str, Any]]


def finding_fields(disease: DiseaseParams, extras: PopulationExtras) -> dict[str, Any]:
    """What a validation record keeps of the planted finding and the anatomy's extras."""
    return {
        "profusion": int(disease.profusion),
        "opacity_type": str(disease.opacity_type.value),
        "opacity_density": float(disease.opacity_density),
        "haze": float(disease.haze),
        "devices": bool(extras.foreign_objects),
        "breast_shadows": bool(extras.breast_shadows),
    }


def is_subtle(record: dict[str, Any]) -> bool:
    return (
        record["profusion"] == 1
        and record["haze"] == 0.0
        and record["opacity_density"] < SUBTLE_DENSITY
    )


def _groups(records: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for profusion in (1, 2, 3):
        groups.append(
            (f"profusion {profusion}", [r for r in records if r["profusion"] == profusion])
        )
    for kind in ("p", "q", "r"):
        groups.append((f"type {kind}", [r for r in records if r["opacity_type"] == kind]))
    groups.append(("with haze", [r for r in records if r["haze"] > 0.0]))
    groups.append(("nodules only (no haze)", [r for r in records if r["haze"] == 0.0]))
    groups.append(
        (
            f"subtle (profusion 1, no haze, contrast < {SUBTLE_DENSITY:g})",
            [r for r in records if is_subtle(r)],
        )
    )
    # Both images of a pair carry them: the specificity column is where they would show.
    groups.append(("with devices", [r for r in records if r.get("devices")]))
    groups.append(("with breast shadows", [r for r in records if r.get("breast_shadows")]))
    return [(name, members) for name, members in groups if members]


def by_finding(
    records: Sequence[dict[str, Any]], threshold: float, statistic: StatisticFn
) -> list[dict[str, Any]]:
    """One row per finding group: the classifier's and the oracle's sensitivity at ``threshold``
    on the diseased images, the classifier's specificity on their healthy partners (the same
    anatomies), and the share of to-healthy differences that darken the lungs."""
    rows = []
    for salt, (name, members) in enumerate(_groups(records), start=700):
        row: dict[str, Any] = {
            "group": name,
            "n_pairs": len(members),
            "sensitivity": statistic(
                [float(r["p_diseased"] >= threshold) for r in members], salt * 4
            ),
            "specificity": statistic(
                [float(r["p_healthy"] < threshold) for r in members], salt * 4 + 3
            ),
            "share_darker_to_healthy": statistic(
                [float(r["change_to_healthy"] < 0) for r in members], salt * 4 + 2
            ),
        }
        if all("oracle_p_diseased" in r for r in members):
            row["oracle_sensitivity"] = statistic(
                [float(r["oracle_p_diseased"] >= threshold) for r in members], salt * 4 + 1
            )
        rows.append(row)
    return rows


def markdown_lines(rows: Sequence[dict[str, Any]], cell: Callable[[Any], str]) -> list[str]:
    lines = [
        "## By finding",
        "",
        "Sensitivity on the diseased images, specificity on their healthy partners.",
        "",
        "| finding | pairs | classifier sensitivity | oracle sensitivity | classifier specificity "
        "| darker toward healthy |",
        "|---|---:|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['group']} | {row['n_pairs']} | {cell(row['sensitivity'])} | "
            f"{cell(row.get('oracle_sensitivity'))} | {cell(row.get('specificity'))} | "
            f"{cell(row['share_darker_to_healthy'])} |"
        )
    return lines
