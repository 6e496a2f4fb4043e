"""DICOM networking with a PACS (pynetdicom): C-ECHO, C-FIND (study, series), C-GET, C-STORE.

Every call opens one association and releases it; nothing is kept open between calls. Failures
are :class:`PacsError` with one line: the host that cannot be reached, the association the server
rejected (and why, in the standard's words), a timeout, a failed status.

C-GET brings the instances back over the same association (no C-MOVE, so the PACS need not know
how to reach us, and no port must be opened here). Each instance is written atomically as it
arrives; when the retrieval fails or is cancelled, the files of that retrieval are removed again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # generated at import time
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)

from engine.atomic import atomic_path
from engine.errors import CancelledError
from engine.pacs.errors import PacsError
from engine.pacs.files import instance_file_name, read_for_sending, staged_into
from engine.pacs.server import DimseServer
from engine.pacs.studies import SeriesSummary, StudySummary

#: What a chest study holds and what cxr-explain writes: the storage classes a C-GET accepts.
#: (An association may offer at most 128 presentation contexts; all 120 storage classes and the
#: query classes would not leave room, and a radiology workstation needs these.)
RETRIEVABLE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray, for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray, for processing
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame grayscale byte SC
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame grayscale word SC
    "1.2.840.10008.5.1.4.1.1.30",  # Parametric Map
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
    "1.2.840.10008.5.1.4.1.1.88.59",  # Key Object Selection
    "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
)
UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
#: Compressed syntaxes we also take for the image classes (the loader decodes each), so a PACS
#: need not transcode what it archived compressed. Each is its own presentation context: a PACS
#: accepts one syntax per context.
COMPRESSED = (
    JPEG2000Lossless,
    JPEG2000,
    JPEGLosslessSV1,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    DeflatedExplicitVRLittleEndian,
)
#: The image classes a compressed transfer is accepted for (CR, DX for presentation and for
#: processing, Secondary Capture).
COMPRESSED_CLASSES = RETRIEVABLE_CLASSES[:4]
_STATUS_SUCCESS = 0x0000
_STATUS_PENDING = (0xFF00, 0xFF01)
_STUDY_KEYS = (
    "StudyInstanceUID",
    "PatientName",
    "PatientID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedInstances",
)
_SERIES_KEYS = (
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)

Progress = Callable[[int, int], None]  # (instances received, instances expected or 0)
# A presentation context to request: (abstract syntax, transfer syntaxes or None for the default).
Context = tuple[Any, Sequence[str] | None]
_FIND = StudyRootQueryRetrieveInformationModelFind


def echo(server: DimseServer) -> None:
    """C-ECHO: raises :class:`PacsError` unless the server answers with success."""
    with _association(server, [(Verification, None)]) as association:
        status = association.send_c_echo()
        _check_final(status, "C-ECHO")


def find_studies(server: DimseServer, filters: dict[str, str] | None = None) -> list[StudySummary]:
    """C-FIND at study level; ``filters``: attribute keyword -> DICOM match value (wildcards)."""
    query = _query("STUDY", _STUDY_KEYS, filters)
    with _association(server, [(_FIND, None)]) as association:
        answers = list(_find(association, query))
    return [StudySummary.from_dataset(answer) for answer in answers]


def find_series(server: DimseServer, study_uid: str) -> list[SeriesSummary]:
    """C-FIND at series level within one study."""
    query = _query("SERIES", _SERIES_KEYS, {"StudyInstanceUID": study_uid})
    with _association(server, [(_FIND, None)]) as association:
        answers = list(_find(association, query))
    return [SeriesSummary.from_dataset(answer) for answer in answers]


def get_study(
    server: DimseServer,
    study_uid: str,
    out: Path,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[Path]:
    """C-GET every instance of a study into ``out`` (``<SOP Instance UID>.dcm``).

    The instances arrive in a staging folder and move into ``out`` only when the whole study
    came: a retrieval that fails or is cancelled, or finds no instance (the study vanished
    between find and get), leaves ``out`` as it was.
    """
    written: list[Path] = []
    expected = [0]

    def on_store(event: Any) -> int:
        if cancel is not None and cancel.is_set():
            return 0xA700  # refused: the get is being cancelled
        dataset = event.dataset
        dataset.file_meta = event.file_meta
        path = staging / instance_file_name(str(dataset.SOPInstanceUID))
        with atomic_path(path) as temporary:
            dataset.save_as(temporary, enforce_file_format=True)
        written.append(path)
        if progress is not None:
            progress(len(written), expected[0])
        return _STATUS_SUCCESS

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    roles = [build_role(uid, scp_role=True) for uid in RETRIEVABLE_CLASSES]
    contexts: list[Context] = [(StudyRootQueryRetrieveInformationModelGet, None)]
    contexts += [(uid, UNCOMPRESSED) for uid in RETRIEVABLE_CLASSES]
    contexts += [(uid, (syntax,)) for uid in COMPRESSED_CLASSES for syntax in COMPRESSED]
    with (
        staged_into(out) as staging,
        _association(
            server, contexts, ext_neg=roles, handlers=[(evt.EVT_C_STORE, on_store)]
        ) as association,
    ):
        final = None
        for status, _identifier in association.send_c_get(
            query, StudyRootQueryRetrieveInformationModelGet
        ):
            if status is None:
                raise PacsError(f"{server.label}: the connection was lost during the get")
            final = status
            remaining = int(status.get("NumberOfRemainingSuboperations", 0))
            expected[0] = max(expected[0], len(written) + remaining)
            if cancel is not None and cancel.is_set():
                association.abort()
                raise CancelledError("the retrieval was cancelled")
        if not written and final is not None and int(final.get("Status", 0)) != 0:
            raise PacsError(
                f"{server.label} has no instances of study {study_uid} (deleted since the "
                f"query?); C-GET status 0x{int(final.Status):04X}"
            )
        _check_final(final, "C-GET")
        failed = int(final.get("NumberOfFailedSuboperations", 0)) if final else 0
        if failed:
            raise PacsError(f"{server.label}: {failed} instance(s) of the study failed")
        if not written:
            raise PacsError(f"{server.label} has no instances of study {study_uid} (deleted?)")
    return [out / path.name for path in written]


def send(server: DimseServer, paths: Sequence[Path]) -> int:
    """C-STORE every file; returns the number stored. One association for all of them."""
    datasets = [read_for_sending(path) for path in paths]
    # Per class: the uncompressed syntaxes, and each syntax its files are stored in as a context
    # of its own (a PACS accepts one syntax per context); a file whose syntax the PACS refused
    # goes uncompressed.
    contexts: list[Context] = []
    for uid in sorted({str(d.SOPClassUID) for d in datasets}):
        contexts.append((uid, UNCOMPRESSED))
        stored = {_syntax(d) for d in datasets if str(d.SOPClassUID) == uid}
        contexts += [(uid, (syntax,)) for syntax in sorted(stored - set(UNCOMPRESSED))]
    with _association(server, contexts) as association:
        accepted = {
            (str(c.abstract_syntax), str(c.transfer_syntax[0]))
            for c in association.accepted_contexts
        }
        # Refused classes are found before anything is stored: no partial send.
        refused = sorted({str(d.SOPClassUID) for d in datasets} - {a for a, _ in accepted})
        if refused:
            raise PacsError(f"{server.label} does not store {', '.join(refused)}; nothing was sent")
        for path, dataset in zip(paths, datasets, strict=True):
            if (str(dataset.SOPClassUID), _syntax(dataset)) not in accepted:
                dataset = _uncompressed(dataset, path)
            status = association.send_c_store(dataset)
            _check_final(status, f"C-STORE of {path.name}")
    return len(datasets)


@contextmanager
def _association(
    server: DimseServer,
    contexts: Sequence[Context],
    *,
    ext_neg: list[Any] | None = None,
    handlers: list[Any] | None = None,
) -> Iterator[Association]:
    unreachable = _unreachable(server)
    if unreachable is not None:
        raise PacsError(f"cannot reach {server.host}:{server.port} ({unreachable})")
    ae = AE(ae_title=server.calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = server.timeout_s
    ae.connection_timeout = server.timeout_s
    for abstract, transfer in contexts:
        if transfer is None:
            ae.add_requested_context(abstract)
        else:
            ae.add_requested_context(abstract, list(transfer))
    association = ae.associate(
        server.host,
        server.port,
        ae_title=server.called_aet,
        ext_neg=ext_neg,
        evt_handlers=handlers,
    )
    if not association.is_established:
        raise PacsError(_refusal(server, association))
    try:
        yield association
    finally:
        if association.is_established:
            association.release()


def _refusal(server: DimseServer, association: Association) -> str:
    if association.is_rejected:
        reason = _rejection_reason(association)
        return f"{server.label} rejected the association ({reason})"
    if association.is_aborted:
        return f"{server.label} aborted the association"
    return f"{server.label} did not answer within {server.timeout_s:g} s"


def _unreachable(server: DimseServer) -> str | None:
    """Why a TCP connection to the server fails, or None when it opens.

    Asked before associating: it tells a wrong address from a refusing service, and pynetdicom
    3.0 leaves the socket of a refused connection open (a resource warning in every caller).
    """
    try:
        with socket.create_connection((server.host, server.port), timeout=server.timeout_s):
            return None
    except TimeoutError:
        return f"no answer within {server.timeout_s:g} s"
    except OSError as error:
        return error.strerror or type(error).__name__


def _rejection_reason(association: Association) -> str:
    response = getattr(association.acceptor, "primitive", None)
    source = getattr(response, "result_source", None)
    diagnostic = getattr(response, "diagnostic", None)
    if source == 1 and diagnostic == 7:
        return f"called AE title {association.acceptor.ae_title!r} not recognised"
    if source == 1 and diagnostic == 3:
        return f"calling AE title {association.requestor.ae_title!r} not recognised"
    return f"result source {source}, reason {diagnostic}"


def _syntax(dataset: Dataset) -> str:
    return str(dataset.file_meta.get("TransferSyntaxUID", ExplicitVRLittleEndian))


def _uncompressed(dataset: Dataset, path: Path) -> Dataset:
    """``dataset`` decoded to Explicit VR Little Endian, for a PACS that refused its syntax."""
    if not dataset.file_meta.TransferSyntaxUID.is_compressed:
        return dataset
    try:
        dataset.decompress()
    except Exception as error:  # a codec that is missing or fails on this file
        raise PacsError(
            f"the PACS does not take {path.name}'s compression and it cannot be decoded here "
            f"({type(error).__name__})"
        ) from None
    return dataset


def _query(level: str, keys: Sequence[str], filters: dict[str, str] | None) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = level
    for keyword in keys:
        setattr(query, keyword, "")
    for keyword, value in (filters or {}).items():
        setattr(query, keyword, value)
    return query


def _find(association: Association, query: Dataset) -> Iterator[Dataset]:
    for status, identifier in association.send_c_find(
        query, StudyRootQueryRetrieveInformationModelFind
    ):
        if status is None:
            raise PacsError("the connection was lost during the query")
        code = int(status.Status)
        if code in _STATUS_PENDING and identifier is not None:
            yield identifier
        elif code != _STATUS_SUCCESS:
            raise PacsError(f"C-FIND failed with status 0x{code:04X}")


def _check_final(status: Dataset | None, what: str) -> None:
    if status is None or "Status" not in status:
        raise PacsError(f"{what}: no answer (timeout or the connection was lost)")
    code = int(status.Status)
    if code not in (_STATUS_SUCCESS, 0xB000, 0xB007, 0xB006):  # success and warnings
        raise PacsError(f"{what} failed with status 0x{code:04X}")
