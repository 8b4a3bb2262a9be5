"""How people see key ids: lowercase hex everywhere (manifest, CLI output, file names).

Key directories written before version 0.2 spelled kids in ``manifest.json`` as
unpadded base64url (the JOSE habit); :func:`kid_candidates` reads both forms so
those directories and kids copied from them keep working.
"""

from __future__ import annotations

import binascii
import string

from ..errors import EcertError
from .jwk import b64url, b64url_decode

_HEX = frozenset(string.hexdigits)


def kid_text(kid: bytes) -> str:
    """The one spelling of a kid shown to people: lowercase hex."""
    return kid.hex()


def kid_candidates(text: object) -> tuple[bytes, ...]:
    """Every kid ``text`` can spell: hex first (any case), then unpadded base64url.

    A short text can be both (``"abcdef"``); callers pick the candidate that
    names a key they hold.  Empty when ``text`` is neither.
    """
    if not isinstance(text, str) or not text or not text.isascii():
        return ()
    found: list[bytes] = []
    if len(text) % 2 == 0 and set(text) <= _HEX:
        found.append(binascii.unhexlify(text))
    try:
        decoded = b64url_decode(text)
    except EcertError:
        decoded = b""
    if decoded and b64url(decoded) == text and decoded not in found:
        found.append(decoded)
    return tuple(found)
