"""The verifier's fast reader of a decrypted token: COSE_Sign1 and claims in one pass.

A token from this format's minter has one layout: a COSE_Sign1 opening with
its key's route bytes (``keys/routes.py``), a claims payload of 24 to 255
bytes in the canonical map layout, a 64-byte signature, nothing else.
:func:`read_sign1` reads exactly that layout and returns the issuer's route,
the bytes libsodium checks (signature + Sig_structure) and the claims fields
(:data:`~ecert_token.codec.cwt.ClaimsFields`, before their checks).  Anything
else gives None, and the verifier reads the token with the general, strict
decoders, which give the answer or the error; so this reader decides how fast
a token is read, never what the answer is.

Where the optional C extension ``_canonical`` was built, :func:`read_sign1`
is the compiled reader: the same layout and the same answers, None included.
``read_sign1_python`` is the reference the tests hold it to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import _speedups
from .cose import SIGNATURE_HEADING
from .cwt import ClaimsFields, claims_layout_fields

Read = tuple[Any, bytes, ClaimsFields]
"""``(route, signature + Sig_structure, claims fields)``."""


def read_sign1_python(plaintext: bytes, openings: Mapping[bytes, Any]) -> Read | None:
    """:func:`read_sign1` in pure Python (the reference for the C reader)."""
    m = len(plaintext)
    if m <= 96:
        return None
    q = plaintext[2] - 0x3B  # where the payload's length byte is
    if not 2 <= q < m - 90:
        return None
    size = plaintext[q]
    end = q + 1 + size
    if size < 24 or end + 66 != m or plaintext[end:end + 2] != SIGNATURE_HEADING:
        return None
    route = openings.get(plaintext[:q])
    if route is None:
        return None
    fields = claims_layout_fields(plaintext[q + 1:end])
    if fields is None:
        return None
    return route, b"".join((plaintext[end + 2:], route[1], plaintext[q - 1:end])), fields


read_sign1: Callable[[bytes, Mapping[bytes, Any]], Read | None] = (
    _speedups.canonical.read_sign1 if _speedups.canonical is not None else read_sign1_python)
"""``read_sign1(plaintext, openings)``: the route found in ``openings`` by the
Sign1's opening bytes (its item 1 must be the Sig_structure prefix), the
signed bytes and the claims fields; or None."""
IMPLEMENTATION = "pure Python" if read_sign1 is read_sign1_python else "C extension"
