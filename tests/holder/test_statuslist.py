"""The status list: bit layout of the IETF draft, signature, strict decoding, tampering."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import TrustStore
from ecert_token.codec import cbor
from ecert_token.errors import EcertError, ErrorCode, InvalidArgument
from ecert_token.holder.statuslist import (
    MAX_STATUS_BYTES,
    StatusList,
    pack,
    read_unverified,
    sign_status_list,
    verify_status_list,
)
from ecert_token.keys.keydir import KeyDir, new_issuer_key
from ecert_token.keys.material import KeyState

from ..codec.envelopes import loosely_framed
from ..conftest import NOW
from .conftest import seeded_random


def _list(statuses: dict[int, int], size: int, bits: int = 1) -> StatusList:
    return StatusList("ec:NHSA", NOW, NOW + 3600, 600, bits, pack(statuses, size, bits), "NHSA")


def test_draft_bit_order() -> None:
    """The draft's example: index 0 is the least significant bit of byte 0."""
    one = pack({0: 1, 3: 1, 9: 1}, 16)
    assert one == bytes([0b00001001, 0b00000010])
    two = pack({0: 1, 1: 2, 3: 3}, 4, bits=2)
    assert two == bytes([0b11_00_10_01])
    sl = _list({1: 2, 3: 3}, 4, bits=2)
    assert [sl.status(i) for i in range(5)] == [0, 2, 0, 3, None]


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 2), st.dictionaries(st.integers(0, 999), st.integers(0, 3), max_size=50))
def test_pack_and_lookup_agree(bits: int, statuses: dict[int, int]) -> None:
    statuses = {i: v % (1 << bits) for i, v in statuses.items()}
    sl = _list(statuses, 1000, bits)
    assert sl.size >= 1000
    assert all(sl.status(i) == statuses.get(i, 0) for i in range(1000))


def test_signed_round_trip_and_cwt_shape(keys: KeyDir) -> None:
    sl = _list({5: 1}, 100)
    data = sign_status_list(sl, keys.signing_key)
    got, key = verify_status_list(data, keys.trust_store())
    assert got == sl and key.kid == keys.signing_key.kid
    items = cbor.loads(data[1:], max_depth=2)
    assert isinstance(items, list)
    header = cbor.loads(items[0], max_depth=1)
    assert header == {1: -8, 4: keys.signing_key.kid, 16: "application/statuslist+cwt"}
    payload = cbor.loads(items[2], max_depth=2)
    assert isinstance(payload, dict)
    assert set(payload) == {2, 4, 6, 65533, 65534}
    assert payload[65533]["bits"] == 1
    assert zlib.decompress(payload[65533]["lst"]) == sl.data
    assert read_unverified(data) == StatusList(sl.uri, sl.issued_at, sl.expires_at, sl.ttl,
                                               sl.bits, sl.data)


def _invalid(data: bytes, trust: TrustStore) -> ErrorCode:
    with pytest.raises(EcertError) as info:
        verify_status_list(data, trust)
    return info.value.code


def test_every_flipped_byte_is_refused(keys: KeyDir) -> None:
    data = sign_status_list(_list({5: 1}, 64), keys.signing_key)
    trust = keys.trust_store()
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        assert _invalid(bytes(tampered), trust) is ErrorCode.STATUS_LIST_INVALID


def test_unknown_or_revoked_signer(keys: KeyDir) -> None:
    data = sign_status_list(_list({}, 8), keys.signing_key)
    assert _invalid(data, TrustStore()) is ErrorCode.STATUS_LIST_INVALID
    other = new_issuer_key("NHSA", random_bytes=seeded_random(b"other"))
    forged = sign_status_list(_list({}, 8), other)
    assert _invalid(forged, keys.trust_store()) is ErrorCode.STATUS_LIST_INVALID
    pub = keys.signing_key.public
    from ecert_token.keys.material import IssuerVerifyKey

    revoked = TrustStore([IssuerVerifyKey(pub.issuer, pub.kid, pub.public_key,
                                          state=KeyState.REVOKED)])
    assert _invalid(data, revoked) is ErrorCode.STATUS_LIST_INVALID


def test_token_and_list_signatures_do_not_mix(keys: KeyDir) -> None:
    """A holder credential (a COSE_Sign1 with header {1, 4}) is not a status list."""
    from ecert_token.holder.claims import HolderClaims, StatusRef
    from ecert_token.holder.credential import sign_credential
    from ecert_token.holder.device import DevicePublicKey
    from ecert_token.model import Channel, InsuranceType, Region

    claims = HolderClaims("E4Q7ZK2M9PXA", NOW, NOW + 10,
                          DevicePublicKey.unchecked_ed25519(bytes(range(32))),
                          StatusRef("ec:NHSA", 1), Region("110105"),
                          InsuranceType.EMPLOYEE_BASIC, Channel.WECHAT, "张*丰")
    assert _invalid(sign_credential(claims, keys.signing_key), keys.trust_store()) is (
        ErrorCode.STATUS_LIST_INVALID)


def test_decompression_bomb_is_refused(keys: KeyDir) -> None:
    from ecert_token.codec import cose

    payload = cbor.dumps({2: "ec:NHSA", 4: NOW + 10, 6: NOW, 65534: 1, 65533: {
        "bits": 1, "lst": zlib.compress(bytes(MAX_STATUS_BYTES + 1), 9)}})
    protected = cbor.dumps({1: -8, 4: keys.signing_key.kid, 16: "application/statuslist+cwt"})
    sig = keys.signing_key.private_key.sign(cose.sig_structure(protected, payload))
    data = b"\xd2" + cbor.dumps([protected, {}, payload, sig])
    assert _invalid(data, keys.trust_store()) is ErrorCode.STATUS_LIST_INVALID


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=300))
def test_garbage_is_only_ever_status_list_invalid(keys: KeyDir, data: bytes) -> None:
    assert _invalid(b"\xd2" + data, keys.trust_store()) is ErrorCode.STATUS_LIST_INVALID


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        pack({}, 8, bits=3)
    with pytest.raises(InvalidArgument):
        pack({9: 1}, 8)
    with pytest.raises(InvalidArgument):
        StatusList("no-scheme", NOW, NOW + 1, 1, 1, b"")


def test_a_loosely_framed_list_is_refused(keys: KeyDir) -> None:
    """One byte form only: the same signed list with a longer length head is invalid
    (it used to verify, since the signature does not cover the framing)."""
    data = sign_status_list(_list({5: 1}, 64), keys.signing_key)
    assert _invalid(loosely_framed(data), keys.trust_store()) is ErrorCode.STATUS_LIST_INVALID
