"""The import-linter contracts cover the whole engine: a new engine package cannot slip past them.

``make test`` runs ``lint-imports``; these tests check the contracts' *lists* against the tree, so
adding ``engine/foo/`` without placing it in a layer, or without forbidding it to the viewer, fails
here rather than passing silently.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _engine_modules() -> set[str]:
    folder = Path(engine.__file__).parent
    names = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in folder.glob("*/__init__.py")}
    return {f"engine.{name}" for name in names}


def _contract(prefix: str) -> dict:
    return next(c for name, c in _contracts().items() if name.startswith(prefix))


def test_every_engine_module_sits_in_exactly_one_layer():
    placed = [
        module.strip()
        for layer in _contract("engine layers")["layers"]
        for module in layer.split("|")
    ]
    assert len(placed) == len(set(placed))
    assert set(placed) == _engine_modules()


def test_the_viewer_is_forbidden_every_engine_module_but_the_api():
    forbidden = set(_contract("viewer reaches the engine only")["forbidden_modules"])
    assert forbidden == _engine_modules() - {"engine.api"}
