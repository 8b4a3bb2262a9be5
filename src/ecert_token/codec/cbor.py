"""Strict CBOR decoding and deterministic encoding on top of cbor2 6.x.

cbor2's C decoder is fast but permissive by default.  Here it runs with
indefinite lengths and duplicate map keys switched off, a small depth limit,
every semantic tag refused (the COSE tags are read from the first byte by the
caller, not by cbor2), and trailing bytes refused.  Callers still check the
shape of what comes back: types are exact, floats and simple values never pass.
"""

from __future__ import annotations

from io import BytesIO
from typing import NoReturn

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


def dumps(value: object) -> bytes:
    """Deterministic (RFC 8949 §4.2.1 core) encoding."""
    return cbor2.dumps(value, canonical=True)
