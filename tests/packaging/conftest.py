"""Access to ``packaging/bundle_policy.py`` (``packaging/`` is a folder of build scripts, not a
package: a ``packaging`` package would shadow the PyPI distribution of that name)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "packaging" / "bundle_policy.py"


def load_bundle_policy() -> ModuleType:
    existing = sys.modules.get("bundle_policy")
    if existing is not None:
        return existing
    spec = importlib.util.spec_from_file_location("bundle_policy", POLICY_FILE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {POLICY_FILE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bundle_policy"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def policy() -> ModuleType:
    return load_bundle_policy()
