"""holder/credential.py: the credential's COSE_Sign1 reader on the terminal's uncached path
gives exactly the strict decoder's answer (``cose.decode_sign1``), or its error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecert_token.codec import cose
from ecert_token.codec.cose import COSEError
from ecert_token.holder.credential import Signed, read_signed
from ecert_token.keys.keydir import KeyDir
from ecert_token.registry import HolderPlatform

from .conftest import HOLDER, MEMBER, activation, device


def _strict(data: bytes) -> Signed:
    message = cose.decode_sign1(data)
    return (message.header.alg, message.header.kid, message.payload, message.signature,
            cose.sig_structure(message.protected, message.payload))


@pytest.fixture
def blobs(platform: HolderPlatform) -> list[bytes]:
    phone = device(b"phone")
    own = platform.activate(activation(HOLDER, phone)).file.sealed
    member = platform.add_family_member(HOLDER, activation(MEMBER, phone, name="李*"))
    return [own, member.file.sealed]


def test_canonical_credentials_are_read_by_slicing(blobs: list[bytes], keys: KeyDir) -> None:
    for blob in blobs:
        alg, kid, payload, signature, message = read_signed(blob)
        assert (alg, kid, payload, signature, message) == _strict(blob)
        assert kid == keys.signing_key.kid and len(signature) == 64
        assert keys.signing_key.public.public_key.verify(signature, message)


def test_long_claims_take_the_two_byte_heading(platform: HolderPlatform) -> None:
    phone = device(b"long")
    blob = platform.activate(activation("Z" * 32, phone, name="*" * 16)).file.sealed
    assert read_signed(blob) == _strict(blob)


@settings(deadline=None, max_examples=400,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # blobs: read only
@given(st.data())
def test_reader_agrees_with_the_strict_decoder(blobs: list[bytes], data: st.DataObject) -> None:
    """Any change of a few bytes (or a cut or an extension): the reader answers what the
    strict decoder answers, or raises as it does."""
    raw = bytearray(data.draw(st.sampled_from(blobs)))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([None, -1, len(raw) + 1]))
    _agrees(bytes(raw[:cut] if cut != len(raw) + 1 else raw + b"\x00"))


def test_every_single_byte_change_agrees_with_the_strict_decoder(blobs: list[bytes]) -> None:
    for blob in blobs:
        for i in range(len(blob)):
            for value in {0x00, 0xFF, blob[i] ^ 0x01, blob[i] ^ 0x40}:
                _agrees(blob[:i] + bytes([value]) + blob[i + 1:])


def _agrees(blob: bytes) -> None:
    """The reader's answer for ``blob`` is the strict decoder's, or both raise."""
    try:
        strict = _strict(blob)
    except COSEError:
        with pytest.raises(COSEError):
            read_signed(blob)
        return
    assert read_signed(blob) == strict
