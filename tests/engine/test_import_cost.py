"""What a module costs to import decides how fast a fresh ``cxr-explain`` process starts.

``cxr-explain explain`` overlaps reading the image with importing torch; that only works while the
command module and the decoder-process starter stay free of the heavy imports they defer.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _cli(*argv: str) -> str:
    """A statement running ``cxr-explain ARGV`` in the probe (its usage exit is swallowed)."""
    return (
        "import contextlib, io\nfrom viewer.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()), "
        f"contextlib.redirect_stderr(io.StringIO()):\n    main({list(argv)!r})"
    )


def _imported_after(statement: str, heavy: tuple[str, ...]) -> set[str]:
    """The modules of ``heavy`` that a fresh interpreter has loaded after ``statement``."""
    probe = f"import sys\n{statement}\nprint(' '.join(m for m in {heavy!r} if m in sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return set(output.split())


@pytest.mark.parametrize(
    ("statement", "must_not_load"),
    [
        ("import engine.cli.explain", ("torch", "pydicom", "PIL")),
        ("import engine.explain.request", ("torch", "pydicom")),
        ("from engine.io import isolation", ("torch", "pydicom")),
        ("import engine.io", ("torch", "pydicom")),
        ("from engine.io import load_radiograph, start_loading", ("torch", "pydicom")),
        # The decoder process reads DICOM files: the caller never parses one itself.
        (
            "from engine.io import load_radiograph\nfrom engine.resources import "
            "sample_radiograph_path\nload_radiograph(sample_radiograph_path(), isolate=True)",
            ("torch", "pydicom"),
        ),
        # --version, --help and usage errors list the registry without importing any command
        (_cli("--version"), ("torch", "pydicom", "engine.cli.explain", "engine.cli.train")),
        (_cli("--help"), ("torch", "pydicom", "engine.cli.explain", "engine.cli.train")),
        (_cli("no-such-command"), ("torch", "pydicom", "engine.cli.explain")),
    ],
)
def test_light_modules_defer_heavy_imports(statement: str, must_not_load: tuple[str, ...]) -> None:
    assert _imported_after(statement, must_not_load) == set()


def test_the_probe_sees_a_heavy_import() -> None:
    # The check above must be able to fail: reading a DICOM file in-process pulls in pydicom.
    statement = (
        "from engine.io import load_radiograph\nfrom engine.resources import "
        "sample_radiograph_path\nload_radiograph(sample_radiograph_path(), isolate=False)"
    )
    assert _imported_after(statement, ("pydicom",)) == {"pydicom"}


def test_the_registry_repeats_each_commands_own_help() -> None:
    from engine.cli.main import REGISTRY, load_subcommands

    commands = {command.name: command for command in load_subcommands()}
    assert {entry.name: entry.help for entry in REGISTRY} == {
        name: command.help for name, command in commands.items()
    }
