"""The signed trust list: verification, tampering, wrong signer, expiry, weak keys,
purpose separation, and the list as a terminal's trust store."""

from __future__ import annotations

import dataclasses

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    InvalidArgument,
    Issuer,
    KeyState,
    Region,
    TokenRejected,
    TrustListError,
    TrustStore,
    Verifier,
    VerifyPolicy,
)
from ecert_token.codec import cbor, cose
from ecert_token.codec.cose import COSEError
from ecert_token.keys.cose_key import issuer_public_cose_map
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import IssuerSigningKey
from ecert_token.token.text import from_text
from ecert_token.trust import (
    GroupKeyInfo,
    RootSigningKey,
    TrustRoot,
    build_trust_list,
    read_unverified,
    sign_trust_list,
    verify_trust_list,
)
from ecert_token.trust.envelope import sign_payload
from ecert_token.trust.listing import encode_payload
from tests.codec.envelopes import loosely_framed
from tests.conftest import NOW, deterministic_random, running_verifier
from tests.trust.conftest import make_list

REG = BusinessType.HOSPITAL_REGISTRATION


def _code_of(data: bytes, root: TrustRoot, now: int = NOW) -> ErrorCode:
    with pytest.raises(TrustListError) as info:
        verify_trust_list(data, root, now)
    return info.value.code


def test_round_trip(signed: bytes, root: RootSigningKey, beijing: KeyDir,
                    shaanxi: IssuerSigningKey) -> None:
    tl = verify_trust_list(signed, root.root, NOW)
    assert tl.sequence == 1
    assert tl.issuer_keys == (beijing.signing_key.public, shaanxi.public)
    assert tl.group_keys == (GroupKeyInfo.of(beijing.group_key),)
    assert read_unverified(signed) == tl
    # No secret travels: the group key's bytes are nowhere in the list.
    assert beijing.group_key.secret not in signed


def test_cross_region_terminal(signed: bytes, root: RootSigningKey, beijing: KeyDir,
                               credential: Credential, clock: FixedClock) -> None:
    """A Xi'an terminal: the national list plus its provisioned national group key."""
    store = verify_trust_list(signed, root.root, NOW).trust_store([beijing.group_key])
    token = Issuer(beijing.signing_key, beijing.group_key, clock=clock).mint(credential, REG)
    result = running_verifier(store, clock).verify(token, REG)
    assert result.issuer == "BJ"
    assert result.claims.region == Region("110105")


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_tampered_at_every_byte(signed: bytes, root: RootSigningKey, mask: int) -> None:
    for i in range(len(signed)):
        tampered = bytearray(signed)
        tampered[i] ^= mask
        with pytest.raises(TrustListError):
            verify_trust_list(bytes(tampered), root.root, NOW)


def test_truncated_or_extended(signed: bytes, root: RootSigningKey) -> None:
    for n in range(len(signed)):
        with pytest.raises(TrustListError):
            verify_trust_list(signed[:n], root.root, NOW)
    assert _code_of(signed + b"\x00", root.root) is ErrorCode.TRUST_LIST_INVALID


def test_signed_by_wrong_key(root: RootSigningKey, beijing: KeyDir,
                             shaanxi: IssuerSigningKey) -> None:
    tl = make_list(beijing, shaanxi)
    other = RootSigningKey.generate(deterministic_random(b"other root"))
    assert _code_of(sign_trust_list(tl, other), root.root) is ErrorCode.TRUST_LIST_BAD_SIGNATURE
    # Same kid claimed, different key: the signature itself fails.
    impostor = RootSigningKey(root.kid, other.private_key)
    assert _code_of(sign_trust_list(tl, impostor), root.root) is (
        ErrorCode.TRUST_LIST_BAD_SIGNATURE
    )


def test_expired(root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey) -> None:
    tl = make_list(beijing, shaanxi, issued_at=NOW - 100, lifetime=100)
    assert _code_of(sign_trust_list(tl, root), root.root) is ErrorCode.TRUST_LIST_EXPIRED
    assert verify_trust_list(sign_trust_list(tl, root), root.root, NOW - 1).sequence == 1


def _payload_with_issuer_x(beijing: KeyDir, x: bytes) -> bytes:
    key_map = issuer_public_cose_map(beijing.signing_key.public)
    key_map[-2] = x
    return cbor.dumps({1: 1, 2: 9, 3: NOW - 10, 4: NOW + 1000,
                       5: [{1: "BJ", 2: key_map, 3: "primary", 6: ["11"]}], 6: []})


@pytest.mark.parametrize("x", [
    b"\x01" + b"\x00" * 31,  # the identity point
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
    b"\x00" * 32,  # order 4
])
def test_small_order_key_in_list_refused(root: RootSigningKey, beijing: KeyDir,
                                         x: bytes) -> None:
    data = sign_payload(_payload_with_issuer_x(beijing, x), root)
    assert _code_of(data, root.root) is ErrorCode.WEAK_KEY


def test_strict_payload(root: RootSigningKey, beijing: KeyDir) -> None:
    x = beijing.signing_key.public.public_key.raw
    good = cbor.loads(_payload_with_issuer_x(beijing, x), max_depth=4)
    assert isinstance(good, dict)
    verify_trust_list(sign_payload(cbor.dumps(good), root), root.root, NOW)
    bad_variants = [
        {**good, 7: 1},                                   # unknown field
        {**good, 1: 2},                                   # unknown version
        {**good, 2: True},                                # bool for an int
        {**good, 5: [{**good[5][0], 3: "minting"}]},      # unknown state
        {**good, 5: [{**good[5][0], 6: ["11", "11"]}]},   # duplicate region
        {**good, 5: [{**good[5][0], 6: ["00"]}]},         # not a province
        {**good, 5: [good[5][0], good[5][0]]},            # kid twice
        {**good, 6: [{1: "national", 2: b"", 3: "primary"}]},  # empty kid
    ]
    for variant in bad_variants:
        data = sign_payload(cbor.dumps(variant), root)
        assert _code_of(data, root.root) is ErrorCode.TRUST_LIST_INVALID


def test_root_key_never_verifies_tokens_and_token_keys_never_lists(
    signed: bytes, root: RootSigningKey, beijing: KeyDir, credential: Credential,
    clock: FixedClock,
) -> None:
    # Types: a root is not a token key and a token key is not a root.
    with pytest.raises(InvalidArgument):
        TrustStore([root.root])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument):
        verify_trust_list(signed, beijing.signing_key.public, NOW)  # type: ignore[arg-type]
    # Wire: a trust list is not a token's COSE_Sign1 and vice versa.
    with pytest.raises(COSEError):
        cose.decode_sign1(signed)
    token = Issuer(beijing.signing_key, beijing.group_key, clock=clock).mint(credential, REG)
    envelope = cose.decode_encrypt0(from_text(token))
    inner = beijing.group_key.aead.decrypt(envelope.iv, envelope.ciphertext,
                                           cose.enc_structure(envelope.protected))
    as_root = TrustRoot(beijing.signing_key.kid, beijing.signing_key.public.public_key)
    assert _code_of(inner, as_root) is ErrorCode.TRUST_LIST_INVALID
    # Signatures: the root's signature does not verify under the token structure.
    parsed = cbor.loads(signed[1:], max_depth=2)
    assert isinstance(parsed, list)
    protected, _, payload, signature = parsed
    assert not root.root.public_key.verify(signature, cose.sig_structure(protected, payload))


def test_root_listed_as_token_key_refused(root: RootSigningKey) -> None:
    as_issuer = IssuerSigningKey("NHSA", root.kid, root.private_key)
    tl = build_trust_list(1, NOW - 10, NOW + 100, [as_issuer.public])
    assert _code_of(sign_trust_list(tl, root), root.root) is ErrorCode.TRUST_LIST_INVALID


def test_list_binding_overrides_local_keys(
    root: RootSigningKey, beijing: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    """Regions, states and group-key states come from the signed list."""
    nationwide = dataclasses.replace(beijing.signing_key, regions=None)
    xian = dataclasses.replace(credential, region=Region("610113"))
    token = Issuer(nationwide, beijing.group_key, clock=clock).mint(xian, REG)
    tl = build_trust_list(2, NOW - 10, NOW + 1000, [beijing.signing_key.public],
                          [beijing.group_key])
    store = verify_trust_list(sign_trust_list(tl, root), root.root, NOW).trust_store(
        [beijing.group_key])
    with pytest.raises(TokenRejected) as info:
        Verifier(store, VerifyPolicy(clock=clock)).verify(token, REG)
    assert info.value.code is ErrorCode.WRONG_REGION

    revoked = GroupKeyInfo("national", beijing.group_key.kid, state=KeyState.REVOKED)
    tl = build_trust_list(3, NOW - 10, NOW + 1000, [beijing.signing_key.public], [revoked])
    store = verify_trust_list(sign_trust_list(tl, root), root.root, NOW).trust_store(
        [beijing.group_key])
    ok = Issuer(beijing.signing_key, beijing.group_key, clock=clock).mint(credential, REG)
    with pytest.raises(TokenRejected) as info:
        Verifier(store, VerifyPolicy(clock=clock)).verify(ok, REG)
    assert info.value.code is ErrorCode.KEY_REVOKED


def test_encode_is_deterministic(beijing: KeyDir, shaanxi: IssuerSigningKey) -> None:
    tl = make_list(beijing, shaanxi)
    assert encode_payload(tl) == encode_payload(make_list(beijing, shaanxi))


def test_a_loosely_framed_list_is_refused(signed: bytes, root: RootSigningKey) -> None:
    """One byte form only: the same signed list with a longer length head is invalid
    (it used to verify, since the signature does not cover the framing)."""
    assert _code_of(loosely_framed(signed), root.root) is ErrorCode.TRUST_LIST_INVALID


def _relabel(value: dict[object, object], label: int, new: object) -> dict[object, object]:
    """``value`` with the key ``label`` written as ``new`` (``True`` or ``1.0`` for 1)."""
    return {new if k == label and type(k) is int else k: v for k, v in value.items()}


@pytest.mark.parametrize("new", [True, 1.0])
@pytest.mark.parametrize("where", ["payload", "entry", "cose_key", "protected"])
def test_integer_labels_are_exact(root: RootSigningKey, beijing: KeyDir, where: str,
                                  new: object) -> None:
    """A signed list whose label 1 is CBOR ``true`` or ``1.0`` is invalid: Python takes
    both for 1 in a key set (the version label, an entry's name, a COSE_Key's kty and the
    header's alg all used to pass; checked on the old code)."""
    from ecert_token.trust.envelope import CONTENT_TYPE, _sig_structure

    good = cbor.loads(_payload_with_issuer_x(beijing, beijing.signing_key.public.public_key.raw),
                      max_depth=4)
    assert isinstance(good, dict)
    entry = good[5][0]
    payload = {
        "payload": lambda: _relabel(good, 1, new),
        "entry": lambda: {**good, 5: [_relabel(entry, 1, new)]},
        "cose_key": lambda: {**good, 5: [{**entry, 2: _relabel(entry[2], 1, new)}]},
        "protected": lambda: good,
    }[where]()
    body = cbor.dumps(payload)
    header: dict[object, object] = {1: root.alg, 3: CONTENT_TYPE, 4: root.kid}
    if where == "protected":
        header = _relabel(header, 1, new)
    protected = cbor.dumps(header)
    data = cose.encode_sign1(protected, body,
                             root.private_key.sign(_sig_structure(protected, body)))
    assert _code_of(data, root.root) is ErrorCode.TRUST_LIST_INVALID


def test_a_header_not_in_deterministic_form_is_refused(root: RootSigningKey,
                                                        beijing: KeyDir) -> None:
    """The root's header fields in another order, signed by the root: invalid (one list
    has one byte form; it used to verify, checked on the old code)."""
    import cbor2

    from ecert_token.trust.envelope import CONTENT_TYPE, _sig_structure

    body = _payload_with_issuer_x(beijing, beijing.signing_key.public.public_key.raw)
    for header in ({1: root.alg, 3: CONTENT_TYPE, 4: root.kid},
                   {4: root.kid, 3: CONTENT_TYPE, 1: root.alg}):
        protected = cbor2.dumps(header)
        data = cose.encode_sign1(protected, body,
                                 root.private_key.sign(_sig_structure(protected, body)))
        if list(header) == [1, 3, 4]:
            verify_trust_list(data, root.root, NOW)
        else:
            assert _code_of(data, root.root) is ErrorCode.TRUST_LIST_INVALID
