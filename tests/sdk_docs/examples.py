"""Load the example programs under examples/ and docs/ scripts (not packages) as modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def load(relative: str, name: str) -> ModuleType:
    """Import ``examples/<relative>`` under the module name ``name``."""
    return load_file(EXAMPLES / relative, name)


def load_file(path: Path, name: str) -> ModuleType:
    """Import the Python file at ``path`` under the module name ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pydantic look modules up here
    spec.loader.exec_module(module)
    return module
