"""The text layer: a short versioned prefix in front of Base45.

``EC1:`` names this format, version 1, so a scanner tells an e-certificate
code from any other QR code by its first four characters, and a later version
can change everything behind its own prefix.  All characters are in the QR
alphanumeric set.
"""

from __future__ import annotations

from ..codec.base45 import Base45Error, b45decode, b45encode

PREFIX = "EC1:"
_PREFIX_CHARS = len(PREFIX)
MAX_TEXT_CHARS = 600
"""Longest text looked at; longer input is refused before any decoding."""


class TextError(ValueError):
    """Not the text form of a token of this version."""


def to_text(envelope: bytes) -> str:
    return PREFIX + b45encode(envelope)


def from_text(text: str | bytes) -> bytes:
    """Check length and prefix, then Base45-decode the rest."""
    if type(text) is str and len(text) <= MAX_TEXT_CHARS and text.startswith(PREFIX):
        try:  # the common case, with the same checks as below
            return b45decode(text[_PREFIX_CHARS:])
        except Base45Error as exc:
            raise TextError("not Base45") from exc
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            size = len(text)
        except ValueError:  # a released memoryview
            raise TextError("not readable") from None
        if size > MAX_TEXT_CHARS:
            raise TextError("too long")
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise TextError("not ASCII") from None
    if not isinstance(text, str):
        raise TextError("not text")
    if len(text) > MAX_TEXT_CHARS:
        raise TextError("too long")
    if not text.startswith(PREFIX):
        raise TextError("unknown prefix")
    try:
        return b45decode(text[_PREFIX_CHARS:])
    except Base45Error as exc:
        raise TextError("not Base45") from exc
