"""How the CLI speaks: JSON on stdout for machines, errors as ``{"error": code}``."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from ..errors import EcertError

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


def emit(obj: object, stream: TextIO | None = None) -> None:
    """Print one JSON document (UTF-8, readable Chinese) and a newline."""
    print(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True), file=stream or sys.stdout)


def emit_error(err: EcertError) -> int:
    """Print the error as JSON on stdout and return the exit code for it."""
    emit(err.to_dict())
    return EXIT_REJECTED
