"""Token inspection: headers always, claims with keys, never verified, never key material."""

from __future__ import annotations

import base64
import json

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
from ecert_token.inspect import NOT_VERIFIED, inspect_token
from ecert_token.keys.keydir import KeyDir, generate
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


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400),
                 st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=400)
                 .map(lambda s: "EC1:" + s)))
def test_any_input_gives_an_inspection_or_an_ecert_error(data: str | bytes) -> None:
    keys = generate(random_bytes=deterministic_random(b"keys"))
    try:
        out = inspect_token(data, keys.trust_store()).to_dict()
    except EcertError as err:
        assert err.code is ErrorCode.MALFORMED
    else:
        assert out["verified"] is False
