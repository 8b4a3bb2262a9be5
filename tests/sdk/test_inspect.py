"""Token inspection: headers always, claims with keys, never verified, never key material."""

from __future__ import annotations

import base64
import json
import types
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Credential,
    EcertError,
    ErrorCode,
    GroupKey,
    Issuer,
    TokenRejected,
    TrustStore,
)
from ecert_token.codec import cose
from ecert_token.codec.base45 import b45decode, b45encode
from ecert_token.holder import HolderClaims, StatusRef, issue, present
from ecert_token.holder.device import DeviceKey, new_device_key
from ecert_token.inspect import (
    NOT_VERIFIED,
    NOT_VERIFIED_PRESENTATION,
    InspectionDict,
    PresentationInspection,
    PresentationInspectionDict,
    inspect_code,
    inspect_presentation,
    inspect_token,
)
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.model import Channel, InsuranceType, Region
from ecert_token.token.text import from_text, to_text
from tests.conftest import NOW, deterministic_random


def _secret_forms(secret: bytes) -> list[str]:
    """Every usual text form of a secret: hex (both cases), base64 and base64url."""
    b64 = base64.b64encode(secret).decode()
    url = base64.urlsafe_b64encode(secret).decode()
    return [secret.hex(), secret.hex().upper(), b64, b64.rstrip("="), url, url.rstrip("=")]


def _render(token: str, keys: TrustStore | GroupKey | None) -> str:
    inspection = inspect_token(token, keys)
    return json.dumps(inspection.to_dict(include_bytes=True), ensure_ascii=False) + repr(
        inspection
    )


def test_headers_without_keys(token: str, keys: KeyDir) -> None:
    out = inspect_token(token).to_dict()
    assert out["verified"] is False
    assert out["note"] == NOT_VERIFIED
    assert out["text"] == {"prefix": "EC1:", "chars": len(token)}
    enc = out["encrypt0"]
    assert isinstance(enc, dict)
    assert enc["alg"] == 10 and enc["alg_name"] == "AES-CCM-16-64-128"
    assert enc["kid"] == keys.group_key.kid.hex()
    assert enc["key"] is None
    assert enc["nonce_bytes"] == 13
    assert enc["bytes"] == len(from_text(token))
    assert out["decrypted"] is False
    assert out["sign1"] is None and out["claims"] is None and out["problem"] is None


def test_claims_with_keys_are_marked_not_verified(token: str, keys: KeyDir) -> None:
    out = inspect_token(token, keys.trust_store()).to_dict()
    assert out["verified"] is False
    assert out["decrypted"] is True
    sign1 = out["sign1"]
    assert isinstance(sign1, dict)
    assert (sign1["alg"], sign1["alg_name"]) == (-8, "EdDSA")
    assert sign1["kid"] == keys.signing_key.kid.hex()
    assert sign1["key"] == "NHSA"
    assert sign1["signature_bytes"] == 64
    claims = out["claims"]
    assert isinstance(claims, dict)
    assert claims["credential_id"] == "E4Q7ZK2M9PXA"
    assert claims["business_type"] == "01101"
    assert claims["insured_region"] == "110105"
    assert claims["masked_name"] == "张*丰"
    assert (claims["issued_at"], claims["expires_at"]) == (NOW, NOW + 60)
    assert "issuer" not in claims
    assert out["problem"] is None


def test_inspection_checks_nothing_beyond_decryption(
    issuer: Issuer, credential: Credential, keys: KeyDir
) -> None:
    """An expired code still shows its claims: inspection is not verification."""
    old = issuer.mint(credential, BusinessType.PHARMACY_PURCHASE, now=NOW - 3600)
    out = inspect_token(old, keys.group_key).to_dict()
    assert out["verified"] is False
    claims = out["claims"]
    assert isinstance(claims, dict) and claims["expires_at"] == NOW - 3600 + 60
    sign1 = out["sign1"]
    assert isinstance(sign1, dict) and sign1["key"] is None  # a group key names no issuer


def test_problems_inside_are_reported(token: str, keys: KeyDir) -> None:
    other = generate(random_bytes=deterministic_random(b"other"))
    out = inspect_token(token, other.trust_store()).to_dict()
    assert out["problem"] == {"error": "unknown_key",
                              "message": "the token names a key that is not trusted here: "
                                         "no such group key"}
    same_kid = GroupKey("national", keys.group_key.kid, bytes(16))
    out = inspect_token(token, same_kid).to_dict()
    assert isinstance(out["problem"], dict)
    assert out["problem"]["error"] == ErrorCode.DECRYPTION_FAILED.value
    assert out["claims"] is None and out["decrypted"] is False

    envelope = cose.decode_encrypt0(from_text(token))
    flipped = bytes([envelope.ciphertext[0] ^ 1]) + envelope.ciphertext[1:]
    tampered = to_text(cose.encode_encrypt0(envelope.protected, envelope.iv, flipped))
    out = inspect_token(tampered, keys.trust_store()).to_dict()
    assert isinstance(out["problem"], dict)
    assert out["problem"]["error"] == "decryption_failed"


@pytest.mark.parametrize("bad", ["", "EC1:", "EC2:00", "hello", "EC1:" + "A" * 700, b"\xff"])
def test_malformed_input_is_refused(bad: str | bytes) -> None:
    with pytest.raises(TokenRejected) as err:
        inspect_token(bad)
    assert err.value.code is ErrorCode.MALFORMED


def test_keys_of_the_wrong_type_are_refused(token: str, keys: KeyDir) -> None:
    with pytest.raises(EcertError) as err:
        inspect_token(token, keys)  # type: ignore[arg-type]
    assert err.value.code is ErrorCode.INVALID_ARGUMENT


def test_never_shows_key_material(token: str, keys: KeyDir) -> None:
    secrets = [keys.group_key.secret, keys.signing_key.private_key.seed]
    forms = [form for s in secrets for form in _secret_forms(s)]
    for material in (None, keys.trust_store(), keys.group_key):
        text = _render(token, material)
        for form in forms:
            assert form not in text
    # The check above can fail: the forms are what a leak would look like.
    leak = json.dumps({"k": base64.urlsafe_b64encode(keys.group_key.secret).decode()})
    assert any(form in leak for form in forms)


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400),
                 st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=400)
                 .map(lambda s: "EC1:" + s),
                 st.binary(max_size=300).map(lambda b: "EP1:" + b45encode(b)),
                 st.binary(max_size=300).map(lambda b: "EP1:" + b45encode(b"\xd2\x84" + b))))
def test_any_input_gives_an_inspection_or_an_ecert_error(data: str | bytes) -> None:
    """Tokens and presentations alike (inspect_code picks by the prefix)."""
    keys = generate(random_bytes=deterministic_random(b"keys"))
    try:
        out = inspect_code(data, keys.trust_store()).to_dict()
    except EcertError as err:
        assert err.code is ErrorCode.MALFORMED
    else:
        assert out["verified"] is False


# --- holder presentations (EP1:) -------------------------------------------

def make_presentation(keys: KeyDir, *, sealed: bool, challenge: bytes | None = None,
                  actor: str | None = None) -> tuple[str, DeviceKey]:
    """A presentation of a credential signed by the test issuer (sealed to the group
    key, or open), made by a seeded device key."""
    phone = new_device_key(deterministic_random(b"inspect phone"))
    claims = HolderClaims("E4Q7ZK2M9PXA", NOW - 3600, NOW + 86_400, phone.public_key,
                          StatusRef("ec:NHSA", 17), Region("110105"),
                          InsuranceType.EMPLOYEE_BASIC, Channel.WECHAT, "张*丰",
                          actor_id=actor)
    blob = issue(claims, keys.signing_key, keys.group_key if sealed else None,
                 deterministic_random(b"inspect seal"))
    text = present(blob, phone, BusinessType.PHARMACY_PURCHASE, now=NOW, challenge=challenge,
                   random_bytes=deterministic_random(b"inspect id"))
    return text, phone


def test_an_open_presentation_shows_what_it_carries_without_keys(keys: KeyDir) -> None:
    text, phone = make_presentation(keys, sealed=False)
    seen = inspect_code(text)
    assert isinstance(seen, PresentationInspection)
    out = seen.to_dict()
    assert out["verified"] is False and out["note"] == NOT_VERIFIED_PRESENTATION
    assert out["text"] == {"prefix": "EP1:", "chars": len(text)}
    shown = out["presentation"]
    assert (shown["alg"], shown["alg_name"], shown["signature_bytes"]) == (-8, "EdDSA", 64)
    assert (shown["business_type"], shown["business_class"]) == ("02121", "payment")
    assert (shown["issued_at"], shown["expires_at"]) == (NOW, NOW + 60)
    assert shown["presentation_id"] == deterministic_random(b"inspect id")(8).hex()
    assert shown["challenge"] is None and "hex" not in shown
    assert shown["payment"] is None
    credential = out["credential"]
    assert credential["mode"] == "open" and credential["encrypt0"] is None
    sign1 = credential["sign1"]
    assert sign1 is not None and sign1["kid"] == keys.signing_key.kid.hex()
    assert sign1["key"] is None  # no trust store given: the issuer is not named
    assert out["decrypted"] is False and out["problem"] is None
    assert out["claims"] == {
        "credential_id": "E4Q7ZK2M9PXA", "actor_id": None, "subject_kind": "1",
        "insured_region": "110105", "insurance_type": "310", "masked_name": "张*丰",
        "channel": "2", "credential_issued_at": NOW - 3600,
        "credential_expires_at": NOW + 86_400, "status": {"uri": "ec:NHSA", "idx": 17},
    }
    # The device key is in the code but is not shown (it would link presentations).
    assert phone.public_key.raw.hex() not in json.dumps(out)
    named = inspect_presentation(text, keys.trust_store()).to_dict()["credential"]["sign1"]
    assert named is not None and named["key"] == "NHSA"


def test_a_payment_presentation_shows_its_binding(keys: KeyDir) -> None:
    """The device-signed payment binding is shown as it travels (counter, digest, ceiling),
    and nothing is checked."""
    from ecert_token.holder.payment import Ceiling

    phone = new_device_key(deterministic_random(b"inspect phone"))
    claims = HolderClaims("E4Q7ZK2M9PXA", NOW - 3600, NOW + 86_400, phone.public_key,
                          StatusRef("ec:NHSA", 17), Region("110105"),
                          InsuranceType.EMPLOYEE_BASIC, Channel.WECHAT, "张*丰")
    blob = issue(claims, keys.signing_key)
    text = present(blob, phone, BusinessType.PHARMACY_PURCHASE, now=NOW,
                   payment=Ceiling(5_000, "P11010500017"), counter=41)
    shown = inspect_code(text).to_dict()["presentation"]  # type: ignore[typeddict-item]
    payment = shown["payment"]
    assert payment is not None
    assert (payment["form"], payment["device_counter"], payment["ceiling_fen"]) == (
        "ceiling", 41, 5_000)
    assert len(bytes.fromhex(payment["digest"])) == 8


def test_a_sealed_presentation_shows_its_claims_only_with_the_group_key(keys: KeyDir) -> None:
    text, _ = make_presentation(keys, sealed=True, challenge=b"\x01\x02\x03")
    out = inspect_presentation(text).to_dict()
    assert out["presentation"]["challenge"] == "010203"
    credential = out["credential"]
    assert credential["mode"] == "sealed" and credential["sign1"] is None
    enc = credential["encrypt0"]
    assert enc is not None and enc["kid"] == keys.group_key.kid.hex()
    assert (enc["alg_name"], enc["nonce_bytes"], enc["key"]) == ("AES-CCM-16-64-128", 13, None)
    assert out["claims"] is None and out["problem"] is None and out["decrypted"] is False
    assert "E4Q7ZK2M9PXA" not in json.dumps(out, ensure_ascii=False)
    assert "张" not in json.dumps(out, ensure_ascii=False)
    for material in (keys.trust_store(), keys.group_key):
        opened = inspect_presentation(text, material).to_dict()
        assert opened["decrypted"] is True and opened["problem"] is None
        assert opened["claims"] is not None
        assert opened["claims"]["credential_id"] == "E4Q7ZK2M9PXA"
        assert opened["credential"]["encrypt0"] is not None
        assert opened["credential"]["encrypt0"]["key"] == "national"


def test_sealed_problems_are_reported(keys: KeyDir) -> None:
    text, _ = make_presentation(keys, sealed=True)
    other = generate(random_bytes=deterministic_random(b"other"))
    out = inspect_presentation(text, other.trust_store()).to_dict()
    assert out["problem"] is not None and out["problem"]["error"] == "unknown_key"
    same_kid = GroupKey("national", keys.group_key.kid, bytes(16))
    out = inspect_presentation(text, same_kid).to_dict()
    assert out["problem"] is not None and out["problem"]["error"] == "decryption_failed"
    assert out["claims"] is None and out["credential"]["sign1"] is None


def test_a_device_signed_nonsense_credential_is_a_problem_not_an_exception(
    keys: KeyDir,
) -> None:
    phone = new_device_key(deterministic_random(b"inspect phone"))
    for blob in (b"\xd2garbage", b"\xd0garbage",
                 cose.encode_sign1(cose.encode_protected(-8, b"k1"), b"\xa0", bytes(64))):
        text = present(blob, phone, BusinessType.HOSPITAL_REGISTRATION, now=NOW)
        out = inspect_presentation(text, keys.trust_store()).to_dict()
        assert out["problem"] is not None and out["problem"]["error"] == "malformed"
        assert out["problem"]["message"].startswith(
            "the input is not a well-formed e-certificate token: credential: ")
        assert out["claims"] is None


def test_a_presentation_with_hex_and_a_delegation(keys: KeyDir) -> None:
    text, _ = make_presentation(keys, sealed=False, actor="M7K2Q9ZX4PEA")
    out = inspect_code(text.encode(), keys.trust_store()).to_dict(include_bytes=True)
    assert "presentation" in out
    assert out["claims"] is not None and out["claims"]["actor_id"] == "M7K2Q9ZX4PEA"
    assert out["presentation"]["hex"] == b45decode(text[4:]).hex()
    sign1 = out["credential"]["sign1"]
    assert sign1 is not None and "payload_hex" in sign1 and "hex" in sign1


def test_presentations_never_show_key_material(keys: KeyDir) -> None:
    text, phone = make_presentation(keys, sealed=True)
    forms = [form for s in (keys.group_key.secret, keys.signing_key.private_key.seed,
                            phone.seed) for form in _secret_forms(s)]
    for material in (None, keys.trust_store(), keys.group_key):
        seen = inspect_presentation(text, material)
        rendered = json.dumps(seen.to_dict(include_bytes=True), ensure_ascii=False) + repr(seen)
        assert not [form for form in forms if form in rendered]


@pytest.mark.parametrize("bad", ["EP1:", "EP1:garbage", "EP1:" + "A" * 700, "EP2:00",
                                 "EP1:" + b45encode(b"\xd2\x84\x40\xa0\x40\x40")])
def test_malformed_presentations_are_refused(bad: str) -> None:
    with pytest.raises(TokenRejected) as err:
        inspect_code(bad)
    assert err.value.code is ErrorCode.MALFORMED


def conforms(value: object, typed: object) -> bool:
    """Is ``value`` exactly an instance of the type ``typed`` (TypedDicts checked key by
    key, required and optional keys told apart, nested ones recursively)?"""
    if typing.is_typeddict(typed):
        # (Read NotRequired from the hints: under postponed annotations 3.11's
        # __required_keys__ cannot see it.)
        hints = typing.get_type_hints(typed, include_extras=True)
        optional = {k for k, h in hints.items() if typing.get_origin(h) is typing.NotRequired}
        hints = {k: typing.get_args(h)[0] if k in optional else h for k, h in hints.items()}
        return (isinstance(value, dict) and set(hints) - optional <= set(value) <= set(hints)
                and all(conforms(value[k], hints[k]) for k in value))
    origin = typing.get_origin(typed)
    if origin is types.UnionType or origin is typing.Union:
        return any(conforms(value, arm) for arm in typing.get_args(typed))
    if origin is typing.Literal:
        return value in typing.get_args(typed)
    if typed is type(None):
        return value is None
    if typed is object:
        return True
    assert isinstance(typed, type), typed
    return type(value) is typed


@pytest.mark.parametrize("include_bytes", [False, True])
def test_to_dict_is_its_typed_dict(token: str, keys: KeyDir, include_bytes: bool) -> None:
    for material in (None, keys.trust_store()):
        out = inspect_token(token, material).to_dict(include_bytes)
        assert conforms(out, InspectionDict), out
        for sealed in (False, True):
            text, _ = make_presentation(keys, sealed=sealed, challenge=b"\x07")
            shown = inspect_presentation(text, material).to_dict(include_bytes)
            assert conforms(shown, PresentationInspectionDict), shown
    problem = inspect_token(token, GroupKey("national", keys.group_key.kid, bytes(16)))
    assert conforms(problem.to_dict(include_bytes), InspectionDict)
    # The checker can fail: a wrong type or a missing key is caught.
    out = inspect_token(token).to_dict()
    assert not conforms({**out, "verified": "no"}, InspectionDict)
    assert not conforms({k: v for k, v in out.items() if k != "note"}, InspectionDict)
