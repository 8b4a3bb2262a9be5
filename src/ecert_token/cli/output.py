"""How the CLI speaks: JSON on stdout for machines, errors as ``{"error": code}``.

Exit statuses: 0 success, 1 a rejected token or a failed operation, 2 a usage
error (a missing or malformed option), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from ..errors import EcertError, InvalidArgument

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(InvalidArgument):
    """The command line itself is wrong (exit 2): a missing key source, a bad number."""


def emit(obj: object, stream: TextIO | None = None) -> None:
    """Print one JSON document (UTF-8, readable Chinese) and a newline, flushed.

    Flushing here, not at interpreter exit, lets a closed pipe surface as a
    ``BrokenPipeError`` that :func:`ecert_token.cli.main.main` handles.
    """
    out = stream or sys.stdout
    print(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True), file=out)
    out.flush()


def emit_error(err: EcertError) -> int:
    """Print the error as JSON on stdout and return the exit code for it."""
    emit(err.to_dict())
    return EXIT_USAGE if isinstance(err, UsageError) else EXIT_REJECTED
