"""The image objects of a DICOM result, built with highdicom from one explanation.

- translated image and rendered difference: Secondary Capture (8-bit MONOCHROME2);
- the signed float difference: Parametric Map with a real-world value mapping (intensity units);
- the lung field: a binary Segmentation with two segments (right and left lung).

Each object is marked derived, references the source image and says "research use only / not for
diagnosis" (Series Description, Image Comments / Content Description, Content Qualification
RESEARCH where the object has it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from engine import __version__
from engine.dicom_results.source import SourceReference, derived_uid
from engine.types import FloatImage, PixelSpacing

MANUFACTURER = "cxr-explain"
MODEL_NAME = "cxr-explain counterfactual explanation"
RESEARCH_ONLY = "Research use only - not for diagnosis"
#: Appended to every Series Description (LO: the whole must fit 64 characters).
RESEARCH_TAG = "RESEARCH ONLY"
#: A chest radiograph as displayed: columns run toward the patient's left, rows toward the feet.
PATIENT_ORIENTATION = ("L", "F")
#: The same directions as patient (LPS) vectors, for the map's declared frame of reference.
IMAGE_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
#: Pixel size the map declares when the source states none (it states no physical size then).
NOMINAL_SPACING_MM = 1.0
#: Units of every intensity in the results: the models' window of the image, [0, 1].
INTENSITY_UNIT = hd.sr.CodedConcept("1", "UCUM", "no units")
#: LUT Explanation of the difference map (LO: at most 64 characters).
DIFFERENCE_EXPLANATION = "translated - original, model-window intensity (0-1)"


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """Series number and description of one result object (one modality per series)."""

    number: int
    description: str


TRANSLATED = SeriesPlan(9101, "cxr-explain translated image")
DIFFERENCE = SeriesPlan(9102, "cxr-explain difference image")
DIFFERENCE_MAP = SeriesPlan(9103, "cxr-explain difference map")
LUNGS = SeriesPlan(9104, "cxr-explain lung field")
REPORT = SeriesPlan(9105, "cxr-explain report")


def _uids(source: SourceReference, plan: SeriesPlan, tag: str) -> tuple[str, str]:
    """Series and SOP Instance UIDs of one object, stable for one source and explanation tag."""
    series = derived_uid(source.dataset, "series", str(plan.number), tag)
    instance = derived_uid(source.dataset, "instance", str(plan.number), tag)
    return series, instance


def _enhanced_identity(source: SourceReference, plan: SeriesPlan, tag: str) -> dict[str, Any]:
    """The series, instance and equipment arguments highdicom's map and segmentation share."""
    series, instance = _uids(source, plan, tag)
    return {
        "series_instance_uid": series,
        "series_number": plan.number,
        "sop_instance_uid": instance,
        "instance_number": 1,
        "manufacturer": MANUFACTURER,
        "manufacturer_model_name": MODEL_NAME,
        "software_versions": __version__,
        "device_serial_number": "0",
    }


def _mark(dataset: Dataset, plan: SeriesPlan, source: SourceReference) -> Dataset:
    dataset.SeriesDescription = f"{plan.description} - {RESEARCH_TAG}"
    if "Rows" in dataset:  # an image: the body part (a chest is no paired organ: no laterality)
        dataset.BodyPartExamined = "CHEST"
    if source.anonymized:
        dataset.PatientIdentityRemoved = "YES"
        dataset.DeidentificationMethod = source.dataset.DeidentificationMethod
        dataset.DeidentificationMethodCodeSequence = (
            source.dataset.DeidentificationMethodCodeSequence
        )
    return dataset


def secondary_capture(
    source: SourceReference,
    pixels: npt.NDArray[np.uint8],
    plan: SeriesPlan,
    comment: str,
    tag: str,
) -> Dataset:
    """An 8-bit grayscale Secondary Capture of ``pixels`` (``(H, W)`` uint8) in the source study."""
    series, instance = _uids(source, plan, tag)
    image = hd.sc.SCImage.from_ref_dataset(
        source.dataset,
        np.ascontiguousarray(pixels, dtype=np.uint8),
        hd.PhotometricInterpretationValues.MONOCHROME2,
        8,
        hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=series,
        series_number=plan.number,
        sop_instance_uid=instance,
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=PATIENT_ORIENTATION,
    )
    image.ImageType = ["DERIVED", "SECONDARY"]
    image.ImageComments = f"{RESEARCH_ONLY}. {comment}"
    if source.anonymized:
        # The caller blanked everything outside the lungs, where burned-in text would be.
        image.BurnedInAnnotation = "NO"
    image.SourceImageSequence = [_image_reference(source.dataset)]
    return _mark(image, plan, source)


def parametric_map(
    source: SourceReference,
    difference: FloatImage,
    limit: float,
    spacing: PixelSpacing | None,
    tag: str,
) -> Dataset:
    """The signed difference (translated - original, intensity units) as float32 values.

    The Parametric Map IOD requires a frame of reference and plane geometry, which a projection
    radiograph does not have. The map declares its own: a new Frame of Reference UID, the chest
    as displayed (:data:`IMAGE_ORIENTATION`), position 0 and the source's pixel spacing
    (:data:`NOMINAL_SPACING_MM` when it states none). Positions in it are image positions.
    """
    geometry = _declared_geometry(source, spacing)
    values = np.ascontiguousarray(difference, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    mapping = hd.pm.RealWorldValueMapping(
        lut_label="DIFFERENCE",
        lut_explanation=DIFFERENCE_EXPLANATION,
        unit=INTENSITY_UNIT,
        value_range=(min(low, 0.0), max(high, 0.0)),
        slope=1.0,
        intercept=0.0,
    )
    window = hd.VOILUTTransformation(window_center=0.0, window_width=2.0 * limit)
    parametric = hd.pm.ParametricMap(
        [geometry],
        values,
        **_enhanced_identity(source, DIFFERENCE_MAP, tag),
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[window],
        content_description=RESEARCH_ONLY[:64],
        content_label="DIFFERENCE",
    )
    return _mark(parametric, DIFFERENCE_MAP, source)


def lung_segmentation(
    source: SourceReference,
    right_lung: npt.NDArray[np.bool_],
    left_lung: npt.NDArray[np.bool_],
    segmenter: str,
    tag: str,
) -> Dataset:
    """The lung field the explanation used: segment 1 the patient's right lung, 2 the left."""
    algorithm = hd.AlgorithmIdentificationSequence(
        name="cxr-explain lung segmenter",
        family=codes.cid7162.ArtificialIntelligence,
        version=segmenter[:64] or __version__,
    )
    segments = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=f"{side} lung",
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=codes.SCT.Lung,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            anatomic_regions=[codes.SCT.Lung],
        )
        for number, side in ((1, "right"), (2, "left"))
    ]
    # Segment descriptions cannot carry laterality here; the label and number say which lung.
    pixels = np.stack([right_lung, left_lung], axis=-1).astype(np.uint8)[None]
    segmentation = hd.seg.Segmentation(
        [source.dataset],
        pixels,
        hd.seg.SegmentationTypeValues.BINARY,
        segments,
        **_enhanced_identity(source, LUNGS, tag),
        content_description=RESEARCH_ONLY[:64],
        content_label="LUNGS",
        omit_empty_frames=False,
    )
    segmentation.PatientOrientation = list(PATIENT_ORIENTATION)
    return _mark(segmentation, LUNGS, source)


def _image_reference(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item


def _declared_geometry(source: SourceReference, spacing: PixelSpacing | None) -> Dataset:
    """The source with the frame of reference the map declares (see :func:`parametric_map`)."""
    geometry = Dataset()
    geometry.update(source.dataset)
    geometry.FrameOfReferenceUID = derived_uid(source.dataset, "frame of reference")
    geometry.PositionReferenceIndicator = ""
    geometry.ImageOrientationPatient = list(IMAGE_ORIENTATION)
    geometry.ImagePositionPatient = [0.0, 0.0, 0.0]
    if spacing is None:
        geometry.PixelSpacing = [NOMINAL_SPACING_MM, NOMINAL_SPACING_MM]
    else:
        geometry.PixelSpacing = [round(spacing.row_mm, 6), round(spacing.column_mm, 6)]
    geometry.SliceThickness = 1.0
    return geometry
