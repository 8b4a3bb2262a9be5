"""Strict CBOR decoding and deterministic encoding on top of cbor2 6.x.

cbor2's C decoder is fast but permissive by default.  Here it runs with
indefinite lengths and duplicate map keys switched off, a small depth limit,
every semantic tag refused (the COSE tags are read from the first byte by the
caller, not by cbor2), and trailing bytes refused.  Callers still check the
shape of what comes back: types are exact, floats and simple values never pass.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, NoReturn, TypeGuard

import cbor2


class CBORError(ValueError):
    """Bytes that are not one strictly well-formed CBOR item of the allowed kind."""


def _reject_tag(*_args: object) -> NoReturn:
    raise CBORError("CBOR tags are not allowed here")


# Tags for which cbor2 has built-in semantic decoders (found by probing cbor2
# 6.x); all other tags reach ``tag_hook``.  Both paths refuse.
_BUILTIN_TAGS = (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260,
                 261, 1004, 55799)
_NO_SEMANTICS = dict.fromkeys(_BUILTIN_TAGS, _reject_tag)


def loads(data: bytes, max_depth: int) -> object:
    """Decode exactly one CBOR item from ``data`` under the strict rules."""
    fp = BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            fp,
            tag_hook=_reject_tag,
            semantic_decoders=_NO_SEMANTICS,
            max_depth=max_depth,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        ).decode()
    except CBORError:
        raise
    except Exception as exc:  # the C decoder signals faults with several types
        raise CBORError("not well-formed CBOR") from exc
    if fp.tell() != len(data):
        raise CBORError("trailing bytes after the CBOR item")
    return value


BYTES = 0x40
TEXT = 0x60
"""Major types 2 and 3 as the top bits of a heading byte."""


def string_head(major: int, length: int) -> bytes:
    """The shortest heading of a definite string of ``major`` (BYTES or TEXT)."""
    if length < 24:
        return bytes((major | length,))
    if length < 0x100:
        return bytes((major | 24, length))
    if length < 0x10000:
        return bytes((major | 25,)) + length.to_bytes(2, "big")
    return bytes((major | 26,)) + length.to_bytes(4, "big")


def string_span(data: bytes, i: int, major: int) -> tuple[int, int]:
    """``(start, end)`` of the definite string of ``major`` whose heading is at ``i``.

    Only the shortest heading for the length is accepted (as a deterministic
    encoder writes it); anything else raises :class:`CBORError`, and a
    heading cut off by the end of ``data`` raises ``IndexError`` (a string
    that runs past the end is the caller's to check, with ``end``).  The
    readers of canonical layouts (the COSE messages, presentations) use this
    to slice strings out of them.
    """
    h = data[i] - major
    if 0 <= h <= 23:
        return i + 1, i + 1 + h
    if h == 24 and data[i + 1] >= 24:
        return i + 2, i + 2 + data[i + 1]
    if h == 25 and data[i + 1]:
        return i + 3, i + 3 + (data[i + 1] << 8 | data[i + 2])
    if h == 26 and (data[i + 1] or data[i + 2]):
        return i + 5, i + 5 + int.from_bytes(data[i + 1:i + 5], "big")
    raise CBORError("not a string with its shortest heading")


def dumps(value: object) -> bytes:
    """Deterministic (RFC 8949 §4.2.1 core) encoding."""
    return cbor2.dumps(value, canonical=True)


def has_int_keys(value: object) -> TypeGuard[dict[Any, Any]]:
    """Is ``value`` a decoded map whose every key is exactly an ``int``?

    Call it before comparing a decoded map's keys with a set of integer
    labels: a CBOR ``true``, a float ``1.0`` or a simple value compares and
    hashes equal to ``1`` in Python, so ``value.keys() == {1, 2}`` alone
    takes ``{true: ..., 2: ...}`` for the expected map.
    """
    return type(value) is dict and all(type(k) is int for k in value)
