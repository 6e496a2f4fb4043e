"""C-ECHO, C-FIND, C-GET and C-STORE against a real Orthanc, and the faults a user meets."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from engine.errors import CancelledError
from engine.pacs.dimse import echo, find_series, find_studies, get_study, send
from engine.pacs.errors import PacsError
from engine.pacs.server import DimseServer
from engine.pacs.testing import PACS_AET, Orthanc

CHEST_CR = Path(get_testdata_file("RG1_UNCR.dcm"))  # the real chest CR of pydicom-data


def test_echo_and_the_faults_of_an_association(orthanc: Orthanc) -> None:
    echo(orthanc.dimse)
    wrong_title = DimseServer("127.0.0.1", orthanc.dicom_port, "NOTTHEPACS", timeout_s=5)
    # Orthanc rejects the unknown title (under load the rejection has been seen to arrive as
    # the connection closing: an abort); either way one line naming the server.
    with pytest.raises(PacsError, match=r"NOTTHEPACS@127\.0\.0\.1.*(rejected|aborted)"):
        echo(wrong_title)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(PacsError, match="cannot reach"):
        echo(DimseServer("127.0.0.1", port, PACS_AET, timeout_s=2))


def test_send_find_get_round_trip(orthanc: Orthanc, tmp_path: Path) -> None:
    assert find_studies(orthanc.dimse) == []
    assert send(orthanc.dimse, [CHEST_CR]) == 1
    source = pydicom.dcmread(CHEST_CR)
    studies = find_studies(orthanc.dimse)
    assert [s.study_uid for s in studies] == [source.StudyInstanceUID]
    assert studies[0].patient_id == str(source.PatientID)
    assert "patient_id" not in studies[0].as_dict()
    assert studies[0].as_dict(show_phi=True)["patient_id"] == str(source.PatientID)
    assert find_studies(orthanc.dimse, {"PatientID": "nobody-has-this-id"}) == []
    series = find_series(orthanc.dimse, source.StudyInstanceUID)
    assert [(s.series_uid, s.modality) for s in series] == [(source.SeriesInstanceUID, "CR")]

    seen: list[tuple[int, int]] = []
    files = get_study(
        orthanc.dimse,
        source.StudyInstanceUID,
        tmp_path / "got",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert [f.name for f in files] == [f"{source.SOPInstanceUID}.dcm"]
    got = pydicom.dcmread(files[0])
    np.testing.assert_array_equal(got.pixel_array, source.pixel_array)
    assert seen[-1][0] == 1


def test_a_study_that_vanished_is_an_error_and_leaves_no_file(
    orthanc: Orthanc, tmp_path: Path
) -> None:
    with pytest.raises(PacsError, match="no instances"):
        get_study(orthanc.dimse, "1.2.826.0.1.3680043.9.7316.404", tmp_path / "got")
    assert not list((tmp_path / "got").iterdir())


def test_a_cancelled_get_removes_what_it_wrote(orthanc: Orthanc, tmp_path: Path) -> None:
    send(orthanc.dimse, [CHEST_CR])
    study = str(pydicom.dcmread(CHEST_CR, stop_before_pixels=True).StudyInstanceUID)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises((CancelledError, PacsError)):
        get_study(orthanc.dimse, study, tmp_path / "got", cancel=cancel)
    assert not list((tmp_path / "got").iterdir())


def test_send_refuses_a_file_that_is_not_dicom(orthanc: Orthanc, tmp_path: Path) -> None:
    text = tmp_path / "notes.dcm"
    text.write_text("not an image")
    with pytest.raises(PacsError, match=r"notes\.dcm is not a DICOM file"):
        send(orthanc.dimse, [text])


def test_a_compressed_image_goes_and_comes_back_as_it_is(orthanc: Orthanc, tmp_path: Path) -> None:
    """The bundled sample is JPEG 2000 lossless: stored and retrieved without transcoding."""
    from engine.resources import sample_radiograph_path

    sample = sample_radiograph_path()
    source = pydicom.dcmread(sample)
    assert source.file_meta.TransferSyntaxUID.is_compressed
    assert send(orthanc.dimse, [sample]) == 1
    (got,) = get_study(orthanc.dimse, str(source.StudyInstanceUID), tmp_path / "got")
    back = pydicom.dcmread(got)
    np.testing.assert_array_equal(back.pixel_array, source.pixel_array)
