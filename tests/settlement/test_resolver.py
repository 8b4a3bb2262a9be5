"""End to end: mint for settlement, verify at a terminal, read the settlement fields,
resolve the handle at the platform; forged, altered, expired and unknown handles refused."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Credential,
    EcertError,
    ErrorCode,
    FixedClock,
    Issuer,
    KeyState,
)
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.model.settlement import HANDLE_CHARS
from ecert_token.settlement import Person, PersonRegistry, Resolver, settlement_token_ids
from tests.conftest import NOW, deterministic_random, running_verifier

PHARMACY = BusinessType.PHARMACY_PURCHASE


def scan(keys: KeyDir, token: str, business: BusinessType = PHARMACY) -> str:
    """What the terminal puts in mdtrt_cert_no."""
    verified = running_verifier(keys.trust_store()).verify(token, business, now=NOW)
    handle = verified.settlement.mdtrt_cert_no
    assert handle is not None
    return handle


def refused(code: ErrorCode, resolver: Resolver, handle: object, **kw: int) -> EcertError:
    with pytest.raises(EcertError) as info:
        resolver.resolve(handle, **kw)  # type: ignore[arg-type]
    assert info.value.code is code, info.value
    return info.value


def test_scan_to_identity(keys: KeyDir, settling_issuer: Issuer, credential: Credential,
                          resolver: Resolver, citizen: Person) -> None:
    token = settling_issuer.mint(credential, PHARMACY)
    verified = running_verifier(keys.trust_store()).verify(token, PHARMACY, now=NOW)
    fields = verified.settlement
    assert fields.to_dict() == {
        "mdtrt_cert_type": "01", "mdtrt_cert_no": fields.mdtrt_cert_no,
        "insuplc_admdvs": credential.region.code, "insutype": credential.insurance_type.value,
        "business_type": "02121", "business_class": "payment",
        "ec_qr_channel": credential.channel.value,
    }
    assert verified.to_dict()["settlement"] == fields.to_dict()
    handle = fields.mdtrt_cert_no
    assert handle is not None and len(handle) == HANDLE_CHARS <= 40
    resolution = resolver.resolve(handle)
    assert resolution.person == citizen
    assert resolution.to_dict()["psn_cert_type"] == "01"
    assert resolution.handle.token_id == verified.claims.token_id
    assert resolution.handle.issuer_kid == keys.signing_key.kid
    # The HIS may upper- or lower-case the field: base32 is case-insensitive.
    assert resolver.resolve(handle.lower()).person == citizen


def test_a_foreigner_with_a_passport_and_a_latin_name(
    keys: KeyDir, settling_issuer: Issuer, foreigner_credential: Credential,
    resolver: Resolver, foreigner: Person,
) -> None:
    assert foreigner_credential.masked_name == "A* W*"
    token = settling_issuer.mint(foreigner_credential, BusinessType.HOSPITAL_REGISTRATION)
    handle = scan(keys, token, BusinessType.HOSPITAL_REGISTRATION)
    person = resolver.resolve(handle).person
    assert person.psn_cert_type.is_foreigner_document
    assert (person.psn_name, person.certno) == ("Amelia Watson-Clarke", "GB1234567")
    # A local-extension channel is never reported as a national ecQrChannel value.
    verified = running_verifier(keys.trust_store()).verify(
        token, BusinessType.HOSPITAL_REGISTRATION, now=NOW)
    assert verified.settlement.ec_qr_channel is None


def test_expired_handle(keys: KeyDir, settling_issuer: Issuer, credential: Credential,
                        resolver: Resolver) -> None:
    handle = scan(keys, settling_issuer.mint(credential, PHARMACY))
    exp = NOW + 60
    assert resolver.resolve(handle, now=exp + 900)
    refused(ErrorCode.HANDLE_EXPIRED, resolver, handle, now=exp + 901)
    assert resolver.resolve(handle, now=exp + 86_400, window=86_400)  # a voucher's window


def _raw(handle: str) -> bytearray:
    return bytearray(base64.b32decode(handle))


def _text(raw: bytes) -> str:
    return base64.b32encode(bytes(raw)).decode()


@pytest.mark.parametrize("byte", range(25))
def test_every_altered_byte_is_refused(keys: KeyDir, settling_issuer: Issuer,
                                       credential: Credential, resolver: Resolver,
                                       byte: int) -> None:
    handle = scan(keys, settling_issuer.mint(credential, PHARMACY))
    raw = _raw(handle)
    raw[byte] ^= 0x01
    expected = {0: ErrorCode.HANDLE_MALFORMED}.get(byte, ErrorCode.HANDLE_INVALID)
    if byte >= 17:  # the ref: no registered person has the altered one
        expected = ErrorCode.PERSON_NOT_REGISTERED
    err = refused(expected, resolver, _text(raw))
    assert handle not in str(err) and credential.credential_id not in str(err)


def test_a_later_expiry_is_refused_not_extended(keys: KeyDir, settling_issuer: Issuer,
                                                credential: Credential,
                                                resolver: Resolver) -> None:
    raw = _raw(scan(keys, settling_issuer.mint(credential, PHARMACY)))
    raw[1:5] = (NOW + 10**6).to_bytes(4, "big")
    refused(ErrorCode.HANDLE_INVALID, resolver, _text(raw), now=NOW + 10**5)


def test_a_handle_forged_for_a_registered_person(keys: KeyDir, credential: Credential,
                                                 resolver: Resolver) -> None:
    """Someone who knows the credential id (every terminal that scanned it does) but
    not the platform's key cannot make a handle: the tag does not match."""
    other = generate(random_bytes=deterministic_random(b"other platform"))
    forger = Issuer(other.signing_key, other.group_key, clock=FixedClock(NOW),
                    token_ids=settlement_token_ids(other.signing_key))
    token = forger.mint(credential, PHARMACY)
    verified = running_verifier(other.trust_store()).verify(token, PHARMACY, now=NOW)
    assert verified.settlement.mdtrt_cert_no is not None
    refused(ErrorCode.HANDLE_INVALID, resolver, verified.settlement.mdtrt_cert_no)


def test_a_code_minted_with_random_ids_has_no_handle(keys: KeyDir, issuer: Issuer,
                                                     credential: Credential) -> None:
    verified = running_verifier(keys.trust_store()).verify(
        issuer.mint(credential, PHARMACY), PHARMACY, now=NOW)
    assert verified.settlement.mdtrt_cert_no is None
    assert verified.to_dict()["settlement"]["mdtrt_cert_no"] is None  # type: ignore[index]


@pytest.mark.parametrize("bad", ["", "A" * 39, "A" * 41, "1" * 40, "A" * 39 + "=",
                                 "Ａ" * 40, None, 40, b"A" * 40, "B" + "A" * 39])
def test_malformed_handles(resolver: Resolver, bad: object) -> None:
    refused(ErrorCode.HANDLE_MALFORMED, resolver, bad)


def test_an_unregistered_person(keys: KeyDir, settling_issuer: Issuer, credential: Credential,
                                resolver: Resolver, registry: PersonRegistry) -> None:
    handle = scan(keys, settling_issuer.mint(credential, PHARMACY))
    assert registry.remove(credential.credential_id)
    refused(ErrorCode.PERSON_NOT_REGISTERED, resolver, handle)


def test_rotated_and_revoked_issuer_keys(keys: KeyDir, settling_issuer: Issuer,
                                         credential: Credential,
                                         registry: PersonRegistry) -> None:
    handle = scan(keys, settling_issuer.mint(credential, PHARMACY))
    rotated = keys.rotate_issuer(NOW, deterministic_random(b"rotate"))
    assert Resolver(rotated.issuer_ring, registry, clock=FixedClock(NOW)).resolve(handle)
    revoked = rotated.revoke(keys.signing_key.kid)
    assert [k.state for k in revoked.issuer_ring if k.kid == keys.signing_key.kid] == [
        KeyState.REVOKED]
    with pytest.raises(EcertError) as info:
        Resolver(revoked.issuer_ring, registry, clock=FixedClock(NOW)).resolve(handle)
    assert info.value.code is ErrorCode.HANDLE_INVALID


@settings(max_examples=200, derandomize=True, deadline=None)
@given(raw=st.binary(min_size=25, max_size=25))
def test_random_handles_never_resolve(raw: bytes) -> None:
    """Any 25 bytes as a handle: refused with a handle code, never another error."""
    with PersonRegistry(":memory:") as registry:
        keys = generate(random_bytes=deterministic_random(b"keys"))
        resolver = Resolver(keys.issuer_ring, registry, clock=FixedClock(NOW))
        with pytest.raises(EcertError) as info:
            resolver.resolve(_text(raw))
        assert info.value.code in {ErrorCode.HANDLE_MALFORMED, ErrorCode.PERSON_NOT_REGISTERED}


def test_salt_and_tag_make_distinct_ids(keys: KeyDir, settling_issuer: Issuer,
                                        credential: Credential) -> None:
    tokens = [settling_issuer.mint(credential, PHARMACY) for _ in range(50)]
    ids = {running_verifier(keys.trust_store()).check(t, PHARMACY, now=NOW).claims.token_id
           for t in tokens}
    assert len(ids) == 50 and all(len(i) == 12 for i in ids)
