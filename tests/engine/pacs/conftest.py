"""A real Orthanc PACS for the PACS tests (``engine.pacs.testing``): one per session, emptied for
each test. The Makefile installs the packages; where they cannot be installed the tests skip and
say why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.pacs.testing import Orthanc, orthanc_available, run_orthanc


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    if not orthanc_available():
        pytest.skip("Orthanc is not installed (make test installs Debian's orthanc packages)")
    with run_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


@pytest.fixture
def orthanc(orthanc_server: Orthanc) -> Orthanc:
    """The session's Orthanc, emptied."""
    orthanc_server.empty()
    return orthanc_server
