"""The validation report's numbers from the per-pair records (``engine.explain.validate``):
means with bootstrap intervals, the classifiers' accuracy at the threshold, ROC AUC, and the
targets of issues 18 and 19 with whether each is met."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.explain import scoring
from engine.explain.validate_config import (
    BASELINE_MAPS,
    LOCALISATION_METRICS,
    MAPS,
    RECIPES,
    ValidationConfig,
)
from engine.explain.validate_findings import by_finding
from engine.inference.model_set import ModelSet


def _statistic(values: Sequence[float], config: ValidationConfig, salt: int) -> dict[str, Any]:
    """``{"mean", "ci95", "n"}`` of the finite values (mean None when there are none)."""
    finite = [float(v) for v in values if np.isfinite(v)]
    interval = scoring.bootstrap_interval(
        finite, resamples=config.bootstrap, seed=config.seed + salt
    )
    return {
        "mean": float(np.mean(finite)) if finite else None,
        "ci95": None if interval is None else list(interval),
        "n": len(finite),
    }


def _geometric(values: Sequence[float], config: ValidationConfig, salt: int) -> dict[str, Any]:
    """:func:`_statistic` of positive ratios on a log scale: the geometric mean and its interval
    (a change 10x the truth and one 0.1x average to 1x, as they should for a size ratio)."""
    logs = [math.log(v) for v in values if np.isfinite(v) and v > 0]
    block = _statistic(logs, config, salt)
    if block["mean"] is not None:
        block["mean"] = math.exp(block["mean"])
    if block["ci95"] is not None:
        block["ci95"] = [math.exp(v) for v in block["ci95"]]
    return block


def _classification(
    records: list[dict[str, Any]], prefix: str, config: ValidationConfig
) -> dict[str, Any] | None:
    healthy_key, diseased_key = f"{prefix}p_healthy", f"{prefix}p_diseased"
    if not all(healthy_key in r and diseased_key in r for r in records):
        return None
    t = config.threshold
    negatives = [float(r[healthy_key] < t) for r in records]
    positives = [float(r[diseased_key] >= t) for r in records]
    pairs = [(a + b) / 2.0 for a, b in zip(negatives, positives, strict=True)]
    healthy = np.asarray([r[healthy_key] for r in records])
    diseased = np.asarray([r[diseased_key] for r in records])
    return {
        "threshold": t,
        "accuracy": _statistic(pairs, config, 1),
        "sensitivity": _statistic(positives, config, 2),
        "specificity": _statistic(negatives, config, 3),
        "roc_auc": _auc_with_interval(healthy, diseased, config),
        "n_images": 2 * len(records),
    }


def _auc(healthy: np.ndarray, diseased: np.ndarray) -> float:
    """ROC AUC as P(diseased score > healthy score) with ties halved."""
    greater = (diseased[:, None] > healthy[None, :]).mean()
    ties = (diseased[:, None] == healthy[None, :]).mean()
    return float(greater + 0.5 * ties)


def _auc_with_interval(
    healthy: np.ndarray, diseased: np.ndarray, config: ValidationConfig
) -> dict[str, Any]:
    rng = np.random.default_rng(config.seed + 4)
    n = len(healthy)
    draws = rng.integers(0, n, size=(config.bootstrap, n))
    values = [_auc(healthy[d], diseased[d]) for d in draws]
    low, high = np.percentile(values, [2.5, 97.5])
    return {"mean": _auc(healthy, diseased), "ci95": [float(low), float(high)], "n": 2 * n}


def aggregate(
    records: list[dict[str, Any]], models: ModelSet, config: ValidationConfig
) -> dict[str, Any]:
    def stat(key: str, salt: int) -> dict[str, Any]:
        return _statistic([r.get(key, np.nan) for r in records], config, salt)

    validity: dict[str, Any] = {}
    for salt, name in enumerate(("to_healthy", "to_disease"), start=10):
        validity[name] = {
            "n_qualifying": int(sum(r[f"qualifies_{name}"] for r in records)),
            "valid_displayed": stat(f"valid_{name}", salt),
            "valid_oracle": stat(f"oracle_valid_{name}", salt + 20),
            "valid_model_resolution_extra": stat(f"valid_model_resolution_{name}", salt + 40),
            "valid_faithful_ceiling": stat(f"ceiling_valid_{name}", salt + 100),
            "valid_oracle_faithful_ceiling": stat(f"oracle_ceiling_valid_{name}", salt + 120),
            "monotonic": stat(f"monotonic_{name}", salt + 60),
            "cout": stat(f"cout_{name}", salt + 80),
        }
    to_healthy_changes = [r["change_to_healthy"] for r in records]
    to_disease_changes = [r["change_to_disease"] for r in records]
    fidelity = {
        "signed_ncc_to_healthy": stat("signed_ncc_to_healthy", 200),
        "signed_ncc_to_disease": stat("signed_ncc_to_disease", 201),
        "mean_change_relative_error_to_healthy": stat("mean_change_relative_error_to_healthy", 202),
        "median_mean_change_relative_error_to_healthy": _median(
            [r["mean_change_relative_error_to_healthy"] for r in records]
        ),
        "change_size_ratio_to_healthy": _geometric(
            [r["change_size_ratio_to_healthy"] for r in records], config, 207
        ),
        "change_size_ratio_to_disease": _geometric(
            [r["change_size_ratio_to_disease"] for r in records], config, 208
        ),
        "leakage_outside_lungs_to_healthy": stat("leakage_to_healthy", 203),
        "device_change_ratio_to_healthy": stat("device_change_ratio_to_healthy", 204),
        "share_darker_to_healthy": _statistic(
            [float(c < 0) for c in to_healthy_changes], config, 205
        ),
        "share_brighter_to_disease": _statistic(
            [float(c > 0) for c in to_disease_changes], config, 206
        ),
    }
    localisation: dict[str, Any] = {}
    for salt, map_name in enumerate(MAPS, start=300):
        if not any(f"iou_{map_name}" in r for r in records):
            continue
        localisation[map_name] = {
            metric: stat(f"{metric}_{map_name}", salt * 10 + k)
            for k, metric in enumerate(LOCALISATION_METRICS)
        }
    return {
        "model": models.version_label(),
        "n_pairs": len(records),
        "phantoms": {
            "seed": config.seed,
            "sizes": list(config.sizes),
            "formats": [f.value for f in config.formats],
            "findings": next(
                (name for name, recipe in RECIPES.items() if recipe == config.recipe), "custom"
            ),
            **config.recipe.to_dict(),
            "foreign_object_probability": config.foreign_object_probability,
            "breast_probability": config.breast_probability,
        },
        "threshold": config.threshold,
        "share_out_of_distribution": stat("out_of_distribution", 5),
        "classifier": _classification(records, "", config),
        "oracle": _classification(records, "oracle_", config),
        "validity": validity,
        "fidelity": fidelity,
        "localisation": localisation,
        "by_finding": by_finding(
            records, config.threshold, lambda values, salt: _statistic(values, config, salt)
        ),
        "integrated_gradients": (
            "computed"
            if "integrated_gradients" in localisation
            else "off"
            if not config.integrated_gradients
            else "skipped: Captum is not installed (pip install 'cxr-explain[research]')"
        ),
        "targets": _targets(validity, fidelity, localisation, records, config),
        "per_pair": records,
    }


def _median(values: Sequence[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.median(finite)) if finite else None


def _mean(block: dict[str, Any] | None) -> float | None:
    return None if block is None else block["mean"]


def _targets(
    validity: dict[str, Any],
    fidelity: dict[str, Any],
    localisation: dict[str, Any],
    records: list[dict[str, Any]],
    config: ValidationConfig,
) -> list[dict[str, Any]]:
    """Issue 10 and 11's targets with the measured value and whether each is met."""
    classifier = _classification(records, "", config) or {}
    rows: list[tuple[str, float | None, str, bool | None]] = []

    def at_least(name: str, value: float | None, goal: float) -> None:
        rows.append((name, value, f">= {goal:g}", None if value is None else value >= goal))

    def at_most(name: str, value: float | None, goal: float) -> None:
        rows.append((name, value, f"<= {goal:g}", None if value is None else value <= goal))

    at_least("classifier accuracy", _mean(classifier.get("accuracy")), 0.97)
    at_least("classifier specificity", _mean(classifier.get("specificity")), 0.95)
    for name in ("to_healthy", "to_disease"):
        at_least(
            f"validity on the displayed image, {name}",
            _mean(validity[name]["valid_displayed"]),
            0.95,
        )
        at_least(f"oracle validity, {name}", _mean(validity[name]["valid_oracle"]), 0.85)
    at_least("signed NCC, to healthy", _mean(fidelity["signed_ncc_to_healthy"]), 0.7)
    at_most(
        "median relative error of the mean lung change",
        fidelity["median_mean_change_relative_error_to_healthy"],
        0.15,
    )
    at_least("share darker toward healthy", _mean(fidelity["share_darker_to_healthy"]), 0.95)
    at_most("device / lung change ratio", _mean(fidelity["device_change_ratio_to_healthy"]), 0.2)
    difference = localisation.get("difference", {}).get("iou")
    baselines = [localisation[m]["iou"] for m in BASELINE_MAPS if m in localisation]
    if difference is not None and baselines:
        best = max(baselines, key=lambda b: b["mean"] if b["mean"] is not None else -1.0)
        met = None
        if difference["mean"] is not None and best["mean"] is not None:
            separated = (
                difference["ci95"] is not None
                and best["ci95"] is not None
                and difference["ci95"][0] > best["ci95"][1]
            )
            met = difference["mean"] >= 2 * best["mean"] and separated
        ratio = (
            None
            if not difference["mean"] or not best["mean"]
            else difference["mean"] / best["mean"]
        )
        rows.append(("difference IoU / best baseline IoU", ratio, ">= 2, intervals apart", met))
    return [
        {"target": name, "value": value, "goal": goal, "met": met}
        for name, value, goal, met in rows
    ]
