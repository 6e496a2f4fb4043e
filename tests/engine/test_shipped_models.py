"""CI guard of the shipped models: their verdicts on fresh phantoms, through files and the public
API, must not regress (a model is guarded like code).

The pairs are generated here, at test time, from held-out anatomy seeds (training uses seeds from
0, validation from 1000), written as PNG and DICOM files of two sizes, read back with
``load_radiograph`` and explained with ``explain``, exactly the user's path. The floors sit below
what the shipped models reach (docs/validation/validation.md) so that the guard does not flake,
and far above what a broken input path gives: the stop-16 models through today's input path
called every healthy phantom diseased (accuracy 0.50, specificity 0.00; docs/validation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from engine import api
from engine.explain.validate import FileFormat, write_phantom_file
from engine.phantoms import DEFAULT_RECIPE, generate_pair
from engine.phantoms.population import extras_for_seed

PAIRS = 16
FIRST_SEED = 7000
SIZES = (256, 512)
#: Classifier accuracy and specificity at the threshold must stay at or above these: at least
#: issue 18's 0.9, and at most two misses of the 32 images and one of the 16 healthy ones. The
#: shipped 512 px classifier reaches accuracy 1.000 and specificity 1.000 on these 32 files
#: (2026-12-07, at the operating point of ``cxr-explain calibrate``; the 384 px one before it
#: 0.969 / 1.000).
ACCURACY_FLOOR = 0.935
SPECIFICITY_FLOOR = 0.935
#: Validity on the displayed image among qualifying counterfactuals, both directions pooled, and
#: the share the independent oracle also calls flipped: what the shipped models reach on these
#: pairs (0.938 and 0.562 since 2026-12-07; the set before, 0.969 and 0.613), less a margin; raise
#: them when better models land.
VALIDITY_FLOOR = 0.9
ORACLE_VALIDITY_FLOOR = 0.5


@pytest.fixture(scope="module")
def shipped() -> api.ModelSet:
    return api.load_model_set(api.default_models_dir())


@pytest.fixture(scope="module")
def verdicts(shipped: api.ModelSet, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    folder = tmp_path_factory.mktemp("guard")
    rng = np.random.default_rng(FIRST_SEED)
    rows = []
    for index in range(PAIRS):
        # Devices and breast shadows as `cxr-explain phantoms` draws them (training has none).
        extras = extras_for_seed(FIRST_SEED + index)
        phantom = generate_pair(
            FIRST_SEED + index,
            DEFAULT_RECIPE.draw(rng),
            size=SIZES[index % len(SIZES)],
            **extras.as_options(),
        )
        kind = (FileFormat.PNG, FileFormat.DICOM)[index // 2 % 2]
        for truth, image in ((False, phantom.healthy_image), (True, phantom.image)):
            path = write_phantom_file(
                folder / f"{index:02d}_{int(truth)}",
                np.asarray(image),
                kind,
                index=index,
                seed=FIRST_SEED,
                spacing_mm=phantom.spacing_mm,
            )
            result = api.explain(
                api.load_radiograph(path),
                shipped,
                api.ExplainRequest(n_frames=2, with_attributions=False),
            )
            rows.append({"truth": truth, "result": result})
    return rows


def test_shipped_classifier_keeps_its_accuracy_and_specificity(verdicts: list[dict]) -> None:
    called = [row["result"].predicted_label == "pneumoconiosis" for row in verdicts]
    truth = [row["truth"] for row in verdicts]
    accuracy = np.mean([c == t for c, t in zip(called, truth, strict=True)])
    specificity = np.mean([not c for c, t in zip(called, truth, strict=True) if not t])
    summary = f"accuracy {accuracy:.3f}, specificity {specificity:.3f} on {len(truth)} images"
    assert accuracy >= ACCURACY_FLOOR, summary
    assert specificity >= SPECIFICITY_FLOOR, summary


def test_shipped_counterfactuals_stay_valid_as_displayed(verdicts: list[dict]) -> None:
    # Direction "auto" always qualifies: it translates away from the classifier's own verdict.
    counterfactuals = [row["result"].primary for row in verdicts]
    assert all(c.qualifies for c in counterfactuals)
    validity = np.mean([c.valid for c in counterfactuals])
    assert validity >= VALIDITY_FLOOR, f"validity {validity:.3f} on {len(counterfactuals)}"


def test_shipped_counterfactuals_also_convince_the_oracle(verdicts: list[dict]) -> None:
    # A flip only the guided classifier sees is an adversarial change, not a visible one.
    assert all(row["result"].oracle_probability is not None for row in verdicts), "no oracle"
    # None: the oracle already put the original on the target side (nothing to flip for it).
    judged = [row["result"].primary.oracle_valid for row in verdicts]
    judged = [verdict for verdict in judged if verdict is not None]
    assert len(judged) >= len(verdicts) // 2, f"the oracle judged only {len(judged)}"
    share = np.mean(judged)
    assert share >= ORACLE_VALIDITY_FLOOR, f"oracle validity {share:.3f} on {len(judged)}"


def test_no_fresh_phantom_is_out_of_distribution(verdicts: list[dict]) -> None:
    flagged = [row["result"].ood_score for row in verdicts if row["result"].out_of_distribution]
    assert len(flagged) <= 1, f"held-out phantoms flagged out of distribution: {flagged}"


def test_a_real_chest_cr_is_flagged_out_of_distribution(shipped: api.ModelSet) -> None:
    path = Path(get_testdata_file("RG1_UNCR.dcm"))
    result = api.explain(
        api.load_radiograph(path), shipped, api.ExplainRequest(n_frames=2, with_attributions=False)
    )
    assert result.out_of_distribution, (result.ood_score, result.segmentation_uncertainty)
    assert result.caution() is not None
    assert "OUT OF DISTRIBUTION" in result.caution()


#: The same phantom reaching the models through different files and masks: a clear verdict (median
#: P outside CLEAR_MARGIN of the threshold) must be the same on every path, and P may move by at
#: most MAX_PROBABILITY_SPREAD. That bound was 0.25 (largest spread 0.15) before the operating
#: point (``cxr-explain calibrate``, 2026-12-06) moved borderline images to P ~ 0.5, where the
#: sigmoid is steepest: the same logits that spread P by 0.05 there now spread it by 0.35 (seed
#: 7102, diseased, P 0.22-0.57 at the first offset, -2.97); the verdict check is the stricter
#: guard.
PERTURBATION_PAIRS = 3
CLEAR_MARGIN = 0.3
MAX_PROBABILITY_SPREAD = 0.4


def _variants(seed: int, diseased: bool, folder: Path) -> list[tuple[str, Path, np.ndarray]]:
    """(name, file, true lung mask) of one anatomy as 8- and 16-bit PNG, DICOM, 256-2048 px."""
    rng = np.random.default_rng(seed)
    disease = DEFAULT_RECIPE.draw(rng)
    out = []
    for size in (256, 512, 1024, 2048):
        phantom = generate_pair(seed, disease, size=size)
        image = np.asarray(phantom.image if diseased else phantom.healthy_image)
        kinds = (
            [("png8", FileFormat.PNG)]
            if size != 512
            else [
                ("png8", FileFormat.PNG),
                ("dicom", FileFormat.DICOM),
                ("png16", None),
            ]
        )
        for name, kind in kinds:
            stem = folder / f"{seed}_{int(diseased)}_{size}_{name}"
            if kind is None:  # 16-bit PNG: the same pixels, finer steps
                path = stem.with_suffix(".png")
                pixels = np.rint(np.clip(image, 0, 1) * 65535).astype(np.uint16)
                Image.fromarray(pixels).save(path)
            else:
                path = write_phantom_file(
                    stem, image, kind, index=0, seed=seed, spacing_mm=phantom.spacing_mm
                )
            out.append((f"{size} {name}", path, phantom.lungs))
    return out


@pytest.mark.parametrize("diseased", [False, True], ids=["healthy", "diseased"])
def test_the_input_path_does_not_move_the_verdict(
    shipped: api.ModelSet, tmp_path: Path, diseased: bool
) -> None:
    request = api.ExplainRequest(n_frames=2, with_attributions=False)
    for seed in range(7100, 7100 + PERTURBATION_PAIRS):
        readings = {}
        for name, path, lungs in _variants(seed, diseased, tmp_path):
            radiograph = api.load_radiograph(path)
            readings[f"{name} segmenter"] = api.explain(radiograph, shipped, request).probability
            readings[f"{name} true mask"] = api.explain(
                radiograph, shipped, request, lung_mask=lungs
            ).probability
        values = np.array(list(readings.values()))
        spread = float(values.max() - values.min())
        detail = ", ".join(f"{k}: {v:.2f}" for k, v in readings.items())
        assert spread <= MAX_PROBABILITY_SPREAD, f"seed {seed}: {detail}"
        if abs(float(np.median(values)) - 0.5) >= CLEAR_MARGIN:
            verdicts = set((values >= 0.5).tolist())
            assert len(verdicts) == 1, f"seed {seed}: a clear verdict flips: {detail}"
