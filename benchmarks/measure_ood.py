"""Measure the two out-of-distribution checks on typical inputs (the table in docs/method.md).

For each input it prints the feature distance score (> 1: out of distribution), the segmentation
uncertainty (> 0.15: out of distribution) and the verdict, with the shipped models or --models:
held-out phantoms of the training recipe, the bundled sample, pydicom's CT, MR, ultrasound and
RGB test files, the real chest CR RG1_UNCR, uniform noise and a flat gray image.

    .venv/bin/python benchmarks/measure_ood.py [--models DIR] [--phantoms 8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file

from engine import api
from engine.explain.validate import FileFormat, write_phantom_file
from engine.phantoms import DEFAULT_RECIPE, generate_pair

PYDICOM_FILES = {
    "CT (pydicom CT_small)": "CT_small.dcm",
    "MR (pydicom MR_small)": "MR_small.dcm",
    "ultrasound (pydicom US1_UNCR)": "US1_UNCR.dcm",
    "RGB secondary capture (pydicom SC_rgb)": "SC_rgb.dcm",
    "real chest CR (pydicom RG1_UNCR)": "RG1_UNCR.dcm",
}


def _row(name: str, result: api.ExplanationResult) -> str:
    score = "n/a" if result.ood_score is None else f"{result.ood_score:.2f}"
    uncertainty = result.segmentation_uncertainty
    shown = "n/a" if uncertainty is None else f"{uncertainty:.3f}"
    verdict = "flagged" if result.out_of_distribution else "in distribution"
    return f"| {name} | {score} | {shown} | {verdict} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, default=api.default_models_dir())
    parser.add_argument("--phantoms", type=int, default=8)
    args = parser.parse_args()
    models = api.load_model_set(args.models)
    request = api.ExplainRequest(n_frames=2, with_attributions=False)
    print("| input | feature score | segmentation uncertainty | verdict |")
    print("| --- | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        rng = np.random.default_rng(5000)
        for index in range(args.phantoms):
            phantom = generate_pair(5000 + index, DEFAULT_RECIPE.draw(rng), size=512)
            for label, image in (("healthy", phantom.healthy_image), ("diseased", phantom.image)):
                path = write_phantom_file(
                    folder / f"{index}_{label}",
                    np.asarray(image),
                    FileFormat.PNG,
                )
                result = api.explain(api.load_radiograph(path), models, request)
                print(_row(f"held-out phantom {index} {label}, 512 px PNG", result))
        sample = api.explain(api.load_radiograph(api.sample_radiograph_path()), models, request)
        print(_row("the bundled sample (1024 px phantom DICOM)", sample))
        for name, file_name in PYDICOM_FILES.items():
            path = get_testdata_file(file_name)
            if path is None:
                continue
            result = api.explain(api.load_radiograph(path), models, request)
            print(_row(name, result))
        noise = np.random.default_rng(1).integers(0, 256, (512, 512), dtype=np.uint8)
        flat = np.full((512, 512), 128, np.uint8)
        for name, pixels in (("uniform noise", noise), ("flat gray", flat)):
            path = folder / f"{name.replace(' ', '_')}.png"
            Image.fromarray(pixels).save(path)
            print(_row(name, api.explain(api.load_radiograph(path), models, request)))


if __name__ == "__main__":
    main()
