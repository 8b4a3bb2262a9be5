"""The text layer: a short versioned prefix in front of Base45.

``EC1:`` names this format, version 1, so a scanner tells an e-certificate
code from any other QR code by its first four characters, and a later version
(or another kind of code) can change everything behind its own prefix: this
module is the one place that tells kinds of code apart (:data:`KINDS`).  All
characters are in the QR alphanumeric set.

A keyboard-wedge scanner types the code followed by CR and/or LF, some add
spaces around it, and some text sources start with a UTF-8 byte-order mark;
exactly those are dropped and nothing else.  Dropping the spaces loses
nothing: Base45 text never ends with a space (the last character of a group
is a digit of value at most 32, or at most 5 in a final pair; the space is 36).
"""

from __future__ import annotations

from .. import _speedups
from ..codec.base45 import Base45Error, b45decode
from ..model.limits import MAX_TEXT_CHARS, PRESENTATION_PREFIX, TEXT_PREFIX

__all__ = ["KINDS", "MAX_TEXT_CHARS", "PREFIX", "TextError", "from_text", "read_text",
           "to_text"]

PREFIX = TEXT_PREFIX
KINDS = (PREFIX, PRESENTATION_PREFIX)
"""The prefixes of the kinds of code this library reads; :func:`read_text`
answers which one a text has, and the verifier dispatches on it."""
_BOM = "\ufeff"
_BOM_BYTES = _BOM.encode()
_TRAILING = " \r\n"
_SCANNER_EXTRA = 8
"""Characters a scanner may add around a code that still count towards nothing."""


class TextError(ValueError):
    """Not the text form of a token of this version."""


def to_text(envelope: bytes) -> str:
    """The text of an envelope: the prefix and its Base45 (compiled where built)."""
    return PREFIX + _speedups.b45encode(envelope)


def read_text(text: str | bytes) -> tuple[str, str]:
    """``(prefix, Base45 body)`` of a code's text, or :class:`TextError`.

    Accepts ``str`` or ASCII bytes; drops what a scanner adds (see above);
    refuses text longer than :data:`MAX_TEXT_CHARS` and any prefix not in
    :data:`KINDS`.
    """
    if type(text) is not str:
        text = _as_str(text)
    if text[-1:] in _TRAILING or text[:1] in _LEADING:
        if len(text) > MAX_TEXT_CHARS + _SCANNER_EXTRA:
            raise TextError("too long")
        text = text.removeprefix(_BOM).lstrip(" ").rstrip(_TRAILING)
    if len(text) > MAX_TEXT_CHARS:
        raise TextError("too long")
    for prefix in KINDS:
        if text.startswith(prefix):
            return prefix, text[len(prefix):]
    raise TextError("unknown prefix")


_LEADING = (" ", _BOM)


def _as_str(text: object) -> str:
    if not isinstance(text, bytes | bytearray | memoryview):
        raise TextError("not text")
    try:
        size = len(text)
    except ValueError:  # a released memoryview
        raise TextError("not readable") from None
    if size > MAX_TEXT_CHARS + _SCANNER_EXTRA:
        raise TextError("too long")
    data = bytes(text).removeprefix(_BOM_BYTES)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise TextError("not ASCII") from None


def from_text(text: str | bytes) -> bytes:
    """The envelope bytes of a token's text: :func:`read_text`, then Base45."""
    kind, body = read_text(text)
    if kind != PREFIX:  # a holder presentation is not a token envelope
        raise TextError("unknown prefix")
    try:
        return b45decode(body)
    except Base45Error as exc:
        raise TextError("not Base45") from exc
