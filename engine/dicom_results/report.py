"""The explanation's numbers as a Comprehensive SR measurement report (DICOM TID 1500).

Measurement groups:

1. the classifier: P(pneumoconiosis) of the original, the decision threshold, the oracle's P, the
   out-of-distribution score and the segmentation uncertainty; qualitative: the predicted class;
2. per counterfactual: P of the translated image as shown, the oracle's P of it and the verdicts
   (valid / invalid / not qualifying; monotonic slider);
3. per lung region (whole field, each lung, each zone): mean intensity before and after and the
   mean change, with the lung and its laterality as finding site.

Concepts without a standard code use the private coding scheme ``99CXREXPLAIN`` (PS3.16 8.2:
designators starting with 99 are for local use).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import highdicom as hd
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from engine import __version__
from engine.dicom_results.objects import MANUFACTURER, REPORT, RESEARCH_ONLY, _mark, _uids
from engine.dicom_results.source import SourceReference
from engine.explain.pipeline import Counterfactual, ExplanationResult
from engine.explain.statistics import RegionStatistics

SCHEME = "99CXREXPLAIN"
UNITLESS = CodedConcept("1", "UCUM", "no units")
PROBABILITY = CodedConcept("P-PNEUMO", SCHEME, "Probability of pneumoconiosis")
THRESHOLD = CodedConcept("THRESHOLD", SCHEME, "Decision threshold")
ORACLE_PROBABILITY = CodedConcept("P-ORACLE", SCHEME, "Oracle probability of pneumoconiosis")
OOD_SCORE = CodedConcept("OOD", SCHEME, "Out-of-distribution score")
SEGMENTATION_UNCERTAINTY = CodedConcept("SEG-UNC", SCHEME, "Segmentation uncertainty")
PREDICTED_CLASS = CodedConcept("CLASS", SCHEME, "Predicted class")
TRANSLATED_PROBABILITY = CodedConcept(
    "P-TRANSLATED", SCHEME, "Probability of pneumoconiosis of the translated image"
)
ORACLE_TRANSLATED_PROBABILITY = CodedConcept(
    "P-ORACLE-TRANSLATED", SCHEME, "Oracle probability of the translated image"
)
VERDICT = CodedConcept("VERDICT", SCHEME, "Counterfactual verdict")
ORACLE_VERDICT = CodedConcept("ORACLE-VERDICT", SCHEME, "Oracle counterfactual verdict")
MONOTONIC = CodedConcept("MONOTONIC", SCHEME, "Slider probabilities monotonic")
MEAN_ORIGINAL = CodedConcept("MEAN-ORIG", SCHEME, "Mean intensity of the original")
MEAN_TRANSLATED = CodedConcept("MEAN-TRANS", SCHEME, "Mean intensity of the translated image")
MEAN_CHANGE = CodedConcept("MEAN-CHANGE", SCHEME, "Mean intensity change")
CHEST_RADIOGRAPH = CodedConcept("399208008", "SCT", "Plain chest X-ray")
YES = CodedConcept("373066001", "SCT", "Yes")
NO = CodedConcept("373067005", "SCT", "No")


def _answer(name: str) -> CodedConcept:
    return CodedConcept(name.upper()[:16], SCHEME, name)


def measurement_report(
    source: SourceReference, result: ExplanationResult, evidence: Sequence[Dataset], tag: str
) -> Dataset:
    """The SR of ``result``; ``evidence``: the other result objects it was derived with."""
    series, instance = _uids(source, REPORT, tag)
    algorithm = hd.sr.AlgorithmIdentification(
        name="cxr-explain", version=__version__, parameters=[result.model_label[:1024]]
    )
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=str(series), name="cxr-explain", manufacturer_name=MANUFACTURER
        ),
    )
    source_image = hd.sr.SourceImageForMeasurementGroup.from_source_image(source.dataset)
    groups = [_classifier_group(result, algorithm, source_image)]
    for index, counterfactual in enumerate(result.counterfactuals, 1):
        groups.append(_counterfactual_group(index, counterfactual, algorithm, source_image))
        groups += [
            _region_group(index, counterfactual, region, algorithm, source_image)
            for region in counterfactual.statistics.regions
            if region.n_pixels > 0 and math.isfinite(region.mean_change)
        ]
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=CHEST_RADIOGRAPH,
        imaging_measurements=groups,
    )
    report = hd.sr.ComprehensiveSR(
        evidence=[source.dataset, *evidence],
        content=content[0],
        series_instance_uid=series,
        series_number=REPORT.number,
        sop_instance_uid=instance,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
    )
    return _mark(report, REPORT, source)


def _classifier_group(
    result: ExplanationResult,
    algorithm: hd.sr.AlgorithmIdentification,
    source_image: hd.sr.SourceImageForMeasurementGroup,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    values = [(PROBABILITY, result.probability), (THRESHOLD, result.threshold)]
    optional = (
        (ORACLE_PROBABILITY, result.oracle_probability),
        (OOD_SCORE, result.ood_score),
        (SEGMENTATION_UNCERTAINTY, result.segmentation_uncertainty),
    )
    values += [(name, value) for name, value in optional if value is not None]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(identifier="classifier"),
        algorithm_id=algorithm,
        measurements=[_measurement(name, value) for name, value in values],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(PREDICTED_CLASS, _answer(result.predicted_label))
        ],
        source_images=[source_image],
    )


def _counterfactual_group(
    index: int,
    counterfactual: Counterfactual,
    algorithm: hd.sr.AlgorithmIdentification,
    source_image: hd.sr.SourceImageForMeasurementGroup,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    values = [(TRANSLATED_PROBABILITY, counterfactual.probability)]
    if counterfactual.oracle_probability is not None:
        values.append((ORACLE_TRANSLATED_PROBABILITY, counterfactual.oracle_probability))
    evaluations = [
        hd.sr.QualitativeEvaluation(VERDICT, _answer(counterfactual.verdict)),
        hd.sr.QualitativeEvaluation(MONOTONIC, YES if counterfactual.frames.monotonic else NO),
    ]
    if counterfactual.oracle_valid is not None:
        oracle = "valid" if counterfactual.oracle_valid else "invalid"
        evaluations.append(hd.sr.QualitativeEvaluation(ORACLE_VERDICT, _answer(oracle)))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            identifier=f"counterfactual {index} {counterfactual.direction.value}"
        ),
        algorithm_id=algorithm,
        measurements=[_measurement(name, value) for name, value in values],
        qualitative_evaluations=evaluations,
        source_images=[source_image],
    )


def _region_group(
    index: int,
    counterfactual: Counterfactual,
    region: RegionStatistics,
    algorithm: hd.sr.AlgorithmIdentification,
    source_image: hd.sr.SourceImageForMeasurementGroup,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    values = (
        (MEAN_ORIGINAL, region.mean_original),
        (MEAN_TRANSLATED, region.mean_translated),
        (MEAN_CHANGE, region.mean_change),
    )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            identifier=f"counterfactual {index} {counterfactual.direction.value}: {region.region}"
        ),
        algorithm_id=algorithm,
        finding_sites=[_finding_site(region.region)],
        measurements=[_measurement(name, value) for name, value in values],
        source_images=[source_image],
    )


def _finding_site(region: str) -> hd.sr.FindingSite:
    laterality = None
    if region.startswith("right"):
        laterality = codes.SCT.Right
    elif region.startswith("left"):
        laterality = codes.SCT.Left
    return hd.sr.FindingSite(anatomic_location=codes.SCT.Lung, laterality=laterality)


def _measurement(name: CodedConcept, value: float) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=UNITLESS)


__all__ = ["RESEARCH_ONLY", "measurement_report"]
