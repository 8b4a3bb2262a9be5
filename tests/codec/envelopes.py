"""Other encodings of a signed envelope, for the tests of every COSE_Sign1 reader."""

from __future__ import annotations

import cbor2

from ecert_token.codec import cose


def long_bstr(data: bytes) -> bytes:
    """``data`` as a byte string with a four-byte length: valid CBOR, not deterministic."""
    return b"\x5a" + len(data).to_bytes(4, "big") + data


def loosely_framed(data: bytes) -> bytes:
    """The same signed COSE_Sign1 with its payload's length in four bytes.

    The signature covers the protected header and the payload, not the framing,
    so this is still validly signed; only the one-byte-form rule refuses it.
    """
    assert data[:1] == b"\xd2"
    protected, _, payload, signature = cbor2.loads(data[1:])  # not the reader under test
    return (b"\xd2\x84" + cose.bstr_head(len(protected)) + protected + b"\xa0"
            + long_bstr(payload) + cose.bstr_head(len(signature)) + signature)
