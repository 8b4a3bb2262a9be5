"""Load JSON test vectors from ``tests/vectors/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load(name: str) -> Any:
    """The parsed JSON document ``tests/vectors/<name>``."""
    return json.loads((VECTORS / name).read_text("utf-8"))
