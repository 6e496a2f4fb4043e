"""``validate``: metrics against phantom truth, through files, with intervals; JSON and Markdown."""

from __future__ import annotations

import dataclasses
import json
import math
import types

import numpy as np
import pytest

from engine.cli.main import main
from engine.explain import pipeline as pipeline_module
from engine.explain import scoring
from engine.explain import validate as validate_module
from engine.explain.cout import cout, transition_curve
from engine.explain.pipeline import Direction
from engine.explain.validate_config import MAPS
from engine.explain.validate_findings import by_finding
from engine.inference.model_input import model_window
from engine.inference.run import classify
from engine.phantoms import DiseaseRecipe


def test_iou_at_lesion_area_is_one_for_a_perfect_map_and_low_for_a_wrong_one():
    lesion = np.zeros((10, 10), bool)
    lesion[2:4, 2:4] = True
    lungs = np.ones((10, 10), bool)
    perfect = lesion.astype(np.float32)
    assert scoring.iou_at_area(perfect, lesion, lungs) == 1.0
    wrong = np.zeros((10, 10), np.float32)
    wrong[7:9, 7:9] = 1.0
    assert scoring.iou_at_area(wrong, lesion, lungs) == 0.0


def test_pointing_game_hits_only_near_a_lesion():
    lesion = np.zeros((20, 20), bool)
    lesion[5, 5] = True
    lungs = np.ones((20, 20), bool)
    near = np.zeros((20, 20), np.float32)
    near[6, 7] = 1.0  # within the 2 px tolerance
    far = np.zeros((20, 20), np.float32)
    far[15, 15] = 1.0
    assert scoring.pointing_game(near, lesion, lungs) == 1.0
    assert scoring.pointing_game(far, lesion, lungs) == 0.0
    assert np.isnan(scoring.pointing_game(far, np.zeros_like(lesion), lungs))


def test_random_map_localises_no_better_than_chance():
    rng = np.random.default_rng(0)
    lesion = rng.random((64, 64)) < 0.05
    lungs = np.ones((64, 64), bool)
    roc, _ = scoring.detection_aucs(scoring.random_map((64, 64), 3), lesion, lungs)
    assert roc == pytest.approx(0.5, abs=0.06)
    assert scoring.iou_at_area(scoring.random_map((64, 64), 3), lesion, lungs) < 0.1


def test_leakage_and_device_ratio():
    lungs = np.zeros((10, 10), bool)
    lungs[2:8, 2:8] = True
    difference = np.zeros((10, 10), np.float32)
    difference[lungs] = 0.1
    assert scoring.leakage(difference, lungs) == 0.0
    difference[0, 0] = 3.6  # as much mass outside as inside
    assert scoring.leakage(difference, lungs) == pytest.approx(0.5)
    devices = np.zeros((10, 10), bool)
    devices[4, 4:6] = True
    assert scoring.device_change_ratio(difference, devices, lungs) == pytest.approx(1.0)
    difference[devices] = 0.0
    assert scoring.device_change_ratio(difference, devices, lungs) == 0.0


def test_change_size_ratio_compares_the_change_with_the_truth_whatever_its_shape():
    truth = np.zeros(400)
    truth[:20] = -0.2  # a few dark dots: the finding removed
    assert scoring.change_size_ratio(truth, truth) == pytest.approx(1.0)
    assert scoring.change_size_ratio(-truth, truth) == pytest.approx(1.0)  # sign: NCC's job
    stripes = np.where(np.arange(400) % 2 == 0, 0.05, -0.05)  # a texture over every pixel
    assert scoring.change_size_ratio(stripes, truth) == pytest.approx(0.05 / np.sqrt(0.002))
    assert math.isnan(scoring.change_size_ratio(stripes, np.zeros(400)))  # no truth to compare


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.normal(0.5, 0.1, 10)
    large = rng.normal(0.5, 0.1, 400)
    low_s, high_s = scoring.bootstrap_interval(list(small))
    low_l, high_l = scoring.bootstrap_interval(list(large))
    assert low_s <= small.mean() <= high_s
    assert low_l <= large.mean() <= high_l
    assert high_l - low_l < (high_s - low_s) / 3
    assert scoring.bootstrap_interval([0.3, float("nan")]) is None


def test_cout_ends_at_the_original_and_the_counterfactual(tiny_models, chest_like):
    from engine.inference.model_input import model_intensity

    original = model_intensity(chest_like)
    lung = np.zeros(original.shape, bool)
    lung[10:50, 5:40] = True
    translated = np.clip(original + 0.3 * lung, 0.0, 1.0).astype(np.float32)
    curve = transition_curve(tiny_models.classifier, original, translated, lung, steps=4)
    ends = classify(tiny_models.classifier, [original, translated], lung)
    np.testing.assert_allclose(curve[[0, -1]], ends, atol=1e-9)
    assert len(curve) == 5
    # A path that flips fully at once scores 1 toward its target, -1 the other way.
    assert cout(np.array([1.0, 1.0, 1.0]), Direction.TO_DISEASE) == pytest.approx(1.0)
    assert cout(np.array([1.0, 1.0, 1.0]), Direction.TO_HEALTHY) == pytest.approx(-1.0)


def test_the_true_change_as_translation_scores_perfectly(tiny_models, monkeypatch, tmp_path):
    """With the planted change as the translation, the fidelity numbers must say so; with a
    random map, localisation must say chance. This is what makes the metrics able to fail."""
    remembered: dict[str, object] = {}
    real_generate = validate_module.generate_pair
    real_load = validate_module.load_radiograph
    real_translate = pipeline_module.translate

    def generate_and_remember(seed, disease, size, **options):
        phantom = real_generate(seed, disease, size=size, **options)
        remembered["phantom"] = phantom
        return phantom

    def load_and_remember(path):
        radiograph = real_load(path)
        remembered[path.parent.name] = radiograph
        return radiograph

    def true_translate(model, intensity, lung, keep=None):
        real = real_translate(model, intensity, lung, keep)
        healthy, diseased = remembered["healthy"], remembered["pneumoconiosis"]
        source, target = (
            (diseased, healthy) if model is tiny_models.to_healthy else (healthy, diseased)
        )
        window = model_window(source)
        change = target.display(window) - source.display(window)
        return dataclasses.replace(real, change=change.astype(np.float32))

    def true_lungs(model, image):
        lungs = remembered["phantom"].lungs
        return lungs, np.zeros(lungs.shape, bool), 0.0

    monkeypatch.setattr(validate_module, "generate_pair", generate_and_remember)
    monkeypatch.setattr(validate_module, "load_radiograph", load_and_remember)
    monkeypatch.setattr(pipeline_module, "translate", true_translate)
    monkeypatch.setattr(pipeline_module, "segment_lungs_checked", true_lungs)
    # A generator grid that holds every pixel: the faithful ceiling is then this translation.
    monkeypatch.setattr(validate_module, "band_limited", lambda change, size: change)
    config = validate_module.ValidationConfig(
        n=3,
        sizes=(96, 128),
        recipe=DiseaseRecipe(opacity_types=("r",), haze_range=(0.0, 0.0)),
        integrated_gradients=True,
        bootstrap=200,
        work=tmp_path / "files",
    )
    report = validate_module.validate(tiny_models, config)
    assert sorted(p.suffix for p in (tmp_path / "files" / "healthy").iterdir()) == [
        ".dcm",
        ".png",
        ".png",
    ]
    fidelity = report["fidelity"]
    assert fidelity["signed_ncc_to_healthy"]["mean"] > 0.999
    assert fidelity["signed_ncc_to_disease"]["mean"] > 0.999
    assert fidelity["median_mean_change_relative_error_to_healthy"] < 1e-4
    assert fidelity["leakage_outside_lungs_to_healthy"]["mean"] == 0.0
    for name in ("to_healthy", "to_disease"):
        assert fidelity[f"change_size_ratio_{name}"]["mean"] == pytest.approx(1.0, abs=1e-4)
    assert fidelity["share_darker_to_healthy"]["mean"] == 1.0
    assert fidelity["share_brighter_to_disease"]["mean"] == 1.0
    localisation = report["localisation"]
    assert set(localisation) == set(MAPS)
    assert localisation["difference"]["iou"]["mean"] > 0.3  # blurred opacities vs their disks
    assert localisation["difference"]["iou"]["mean"] > 3 * localisation["random"]["iou"]["mean"]
    assert localisation["random"]["roc_auc"]["mean"] == pytest.approx(0.5, abs=0.1)
    for block in (fidelity["signed_ncc_to_healthy"], localisation["difference"]["iou"]):
        low, high = block["ci95"]
        assert low <= block["mean"] <= high
        assert block["n"] == 3
    # Exactly one image of each pair is on each side, whatever the tiny classifier says: every
    # counterfactual that qualifies is counted, and only those.
    for name in ("to_healthy", "to_disease"):
        qualifying = report["validity"][name]["n_qualifying"]
        assert report["validity"][name]["valid_displayed"]["n"] == qualifying
        assert report["validity"][name]["valid_faithful_ceiling"]["n"] == qualifying
        for pair in report["per_pair"]:
            displayed, ceiling = pair[f"valid_{name}"], pair[f"ceiling_valid_{name}"]
            assert displayed == ceiling or (np.isnan(displayed) and np.isnan(ceiling))
    assert report["classifier"]["n_images"] == 6


def test_band_limited_keeps_what_the_grid_holds_and_drops_the_rest():
    """The ceiling's change: exact on a grid as fine as the file, a smooth blob survives a
    coarse grid, a one-pixel checkerboard does not."""
    rows, cols = np.mgrid[0:128, 0:128]
    blob = np.exp(-((rows - 64.0) ** 2 + (cols - 50.0) ** 2) / (2 * 12.0**2)).astype(np.float32)
    checker = (((rows + cols) % 2) * 2.0 - 1.0).astype(np.float32) * 0.1
    np.testing.assert_allclose(validate_module.band_limited(blob, 128), blob, atol=1e-6)
    coarse_blob = validate_module.band_limited(blob, 32)
    assert coarse_blob.shape == blob.shape
    assert scoring.ncc(coarse_blob.ravel(), blob.ravel()) > 0.99
    assert np.abs(validate_module.band_limited(checker, 32)).max() < 0.01
    assert np.abs(validate_module.band_limited(checker, 128)).max() == pytest.approx(0.1)


def test_the_faithful_ceiling_removes_a_small_finding_only_on_a_fine_enough_grid(monkeypatch):
    """A one-pixel finding read by a judge of the brightest lung pixel: removed exactly on the
    file's own grid (valid), smeared on a coarse one (not), kept where the keep mask is."""
    original = np.full((64, 64), 0.4, np.float32)
    original[30, 30] = 0.9
    truth = np.zeros_like(original)
    truth[30, 30] = -0.5
    lung = np.zeros(original.shape, bool)
    lung[10:54, 10:54] = True

    def brightest(model, images, lung):
        return np.array([float(images[0][lung].max())])

    monkeypatch.setattr(validate_module, "classify", brightest)

    def ceiling(grid, keep=None, qualifies=True):
        monkeypatch.setattr(validate_module, "model_size", lambda model: grid)
        primary = types.SimpleNamespace(direction=Direction.TO_HEALTHY, qualifies=qualifies)
        result = types.SimpleNamespace(
            primary=primary,
            right_lung=lung,
            left_lung=np.zeros_like(lung),
            keep=keep,
            original=original,
            threshold=0.5,
            oracle_probability=0.9,
        )
        models = types.SimpleNamespace(
            to_healthy=None, to_disease=None, classifier=None, oracle=object()
        )
        return validate_module._ceiling("to_healthy", result, truth, models)

    assert ceiling(64) == {"ceiling_valid_to_healthy": 1.0, "oracle_ceiling_valid_to_healthy": 1.0}
    assert ceiling(16)["ceiling_valid_to_healthy"] == 0.0
    spike = np.zeros_like(lung)
    spike[30, 30] = True
    assert ceiling(64, keep=spike)["ceiling_valid_to_healthy"] == 0.0
    assert np.isnan(ceiling(64, qualifies=False)["ceiling_valid_to_healthy"])


def _pair(profusion, kind, p, *, haze=0.0, density=1.0, change=-0.01, p_healthy=0.1, devices=False):
    return {
        "profusion": profusion,
        "opacity_type": kind,
        "opacity_density": density,
        "haze": haze,
        "devices": devices,
        "breast_shadows": False,
        "p_healthy": p_healthy,
        "p_diseased": p,
        "oracle_p_diseased": 1.0 - p,
        "change_to_healthy": change,
    }


def test_by_finding_counts_each_group_on_its_own_pairs():
    records = [
        _pair(1, "p", 0.1),  # subtle, missed
        _pair(1, "q", 0.7, density=2.0),  # profusion 1 but not subtle (contrast 2), called
        _pair(3, "p", 0.9, haze=0.2, change=0.02),  # called; the difference brightens
        _pair(3, "r", 0.6, p_healthy=0.8, devices=True),  # its healthy partner is called diseased
    ]
    rows = {
        row["group"]: row
        for row in by_finding(
            records, 0.5, lambda values, salt: {"mean": float(np.mean(values)), "n": len(values)}
        )
    }
    assert rows["profusion 1"]["sensitivity"] == {"mean": 0.5, "n": 2}
    assert rows["profusion 3"]["sensitivity"]["mean"] == 1.0
    assert "profusion 2" not in rows  # no pair, no row
    assert rows["type p"]["n_pairs"] == 2
    assert rows["type p"]["share_darker_to_healthy"]["mean"] == 0.5
    assert rows["type p"]["oracle_sensitivity"]["mean"] == 0.5
    subtle = next(row for name, row in rows.items() if name.startswith("subtle"))
    assert subtle["n_pairs"] == 1
    assert subtle["sensitivity"]["mean"] == 0.0
    assert rows["with haze"]["n_pairs"] == 1
    assert rows["nodules only (no haze)"]["n_pairs"] == 3
    assert rows["with devices"]["n_pairs"] == 1
    assert rows["with devices"]["specificity"]["mean"] == 0.0
    assert rows["profusion 3"]["specificity"]["mean"] == 0.5
    assert "with breast shadows" not in rows


def test_validate_cli_writes_the_report(tmp_path, tiny_models, capsys):
    out = tmp_path / "report"
    code = main(
        [
            "validate",
            "--findings",
            "plain",
            "--n",
            "2",
            "--sizes",
            "64",
            "--no-integrated-gradients",
            "--devices",
            "1",
            "--out",
            str(out),
            "--models",
            str(tiny_models.directory),
        ]
    )
    assert code == 0
    report = json.loads((out / "validation.json").read_text())
    for key in ("classifier", "validity", "fidelity", "localisation", "targets", "per_pair"):
        assert key in report, key
    assert report["n_pairs"] == 2
    assert "integrated_gradients" not in report["localisation"]
    assert report["phantoms"]["findings"] == "plain"
    assert report["phantoms"]["foreign_object_probability"] == 1.0
    assert all(pair["devices"] for pair in report["per_pair"])
    for pair in report["per_pair"]:  # the plain findings: contrast 1, no haze
        assert pair["opacity_density"] == 1.0
        assert pair["haze"] == 0.0
        assert pair["profusion"] in (1, 2, 3)
    profusion_rows = [r for r in report["by_finding"] if r["group"].startswith("profusion")]
    assert sum(row["n_pairs"] for row in profusion_rows) == 2
    text = (out / "validation.md").read_text()
    assert "## By finding" in text
    assert "--findings plain" in report["command"]
    assert "--devices 1" in report["command"]
    assert text.startswith("# Validation")
    assert "| classifier accuracy |" in text
    assert "(n=2)" in text
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_pairs"] == 2
    assert "classifier accuracy" in printed["targets"]


def test_validate_refuses_a_device_share_outside_zero_to_one(tmp_path, tiny_models, capsys):
    code = main(["validate", "--devices", "1.5", "--out", str(tmp_path)])
    assert code == 2
    assert "--devices must be in [0, 1], got 1.5" in capsys.readouterr().err


def test_validate_rejects_a_single_pair(tmp_path, tiny_models, capsys):
    code = main(
        ["validate", "--n", "1", "--out", str(tmp_path), "--models", str(tiny_models.directory)]
    )
    assert code == 2
    assert "n must be at least 2" in capsys.readouterr().err


def test_validate_plants_the_devices_and_breast_shadows_it_is_asked_for(tiny_models):
    config = validate_module.ValidationConfig(
        n=2,
        sizes=(96,),
        formats=("png",),
        foreign_object_probability=1.0,
        breast_probability=1.0,
        integrated_gradients=False,
        cout_steps=2,
        bootstrap=100,
    )
    report = validate_module.validate(tiny_models, config)
    assert all(pair["devices"] and pair["breast_shadows"] for pair in report["per_pair"])
    groups = {row["group"]: row["n_pairs"] for row in report["by_finding"]}
    assert groups["with devices"] == groups["with breast shadows"] == 2


@pytest.mark.parametrize("name", ["foreign_object_probability", "breast_probability"])
def test_validate_refuses_a_chance_outside_zero_to_one(name):
    with pytest.raises(ValueError, match=name):
        validate_module.ValidationConfig(**{name: 1.5})
