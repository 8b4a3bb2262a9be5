"""What the CLI reads from people: tokens, numbers, codes, kids, regions, files.

Each ``*_arg`` function is an argparse ``type=``: a bad value is a usage error
(exit 2) whose message says what is expected, and for a code lists the valid
ones.  :func:`read_token` takes a token from the command line or, when none is
given (or ``-``), from standard input, as a keyboard-wedge scanner or a pipe
delivers it: a UTF-8 byte order mark and surrounding whitespace are dropped.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TypeVar

from ..errors import EcertError, InvalidArgument
from ..keys.kids import kid_candidates
from ..keys.material import validate_regions
from ..model import Region

E = TypeVar("E", bound=Enum)

BOM = "\ufeff"


def clean_token(text: str) -> str:
    """``text`` without a leading byte order mark and surrounding whitespace."""
    return text.strip().removeprefix(BOM).strip()


def read_token(value: str | None) -> str:
    """The token given on the command line, or read from stdin when None or ``-``."""
    if value is not None and value != "-":
        return clean_token(value)
    data = sys.stdin.buffer.read()
    try:
        return clean_token(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidArgument("standard input is not UTF-8 text") from None


def read_file(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The bytes of ``path``; the error names the file the user gave."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or "unreadable"
        raise InvalidArgument(f"cannot read the {what} {path}: {reason}") from None


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None


def positive_int(value: str) -> int:
    """A whole number of at least 1."""
    number = _int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def unix_time(value: str) -> int:
    """Unix seconds: a whole number of at least 0."""
    number = _int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is not a Unix time (seconds >= 0)")
    return number


def valid_codes(enum: type[Enum]) -> str:
    """``"01101 (hospital registration), ..."``: every code of a code table."""
    return ", ".join(f"{m.value} ({m.name.lower().replace('_', ' ')})" for m in enum)


def code_arg(enum: type[E], what: str) -> Callable[[str], E]:
    """An argparse type reading a code of ``enum``; an unknown one lists the valid codes."""

    def parse(value: str) -> E:
        for member in enum:
            if member.value == value.strip():
                return member
        raise argparse.ArgumentTypeError(
            f"unknown {what} code {value!r}; valid codes: {valid_codes(enum)}"
        )

    parse.__name__ = f"{what} code"
    return parse


def region_arg(value: str) -> Region:
    """A six-digit division code (ASCII digits)."""
    try:
        return Region(value)
    except EcertError as exc:
        raise argparse.ArgumentTypeError(exc.detail or str(exc)) from None


def regions_arg(value: str) -> frozenset[str]:
    """Comma-separated province prefixes (``11,31``)."""
    prefixes = frozenset(p.strip() for p in value.split(","))
    try:
        result = validate_regions(prefixes)
    except EcertError as exc:
        raise argparse.ArgumentTypeError(exc.detail or str(exc)) from None
    assert result is not None
    return result


def kid_arg(value: str) -> tuple[bytes, ...]:
    """A kid as printed (lowercase hex) or as older manifests wrote it (base64url).

    Returns every reading; the command picks the one that names a key it holds.
    """
    found = kid_candidates(value.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{value!r} is not a kid (hex, as `ecert` prints it)")
    return found
