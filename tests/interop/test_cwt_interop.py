"""Interop with python-cwt, an independent COSE/CWT implementation.

python-cwt reads our tokens with nothing but the key directory's JWKs, and
our verifier accepts tokens python-cwt assembles from the same keys, and
refuses the header shapes this format does not allow.  Expected claim values
are written out literally (the layers of docs/interop.md), not
computed with our own encoder.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ecert_token import (
    BusinessType,
    Channel,
    ErrorCode,
    FamilyAccount,
    InsuranceType,
    Issuer,
    Region,
    SubjectKind,
    TokenClaims,
    TokenRejected,
    Verifier,
)
from ecert_token.keys.jwk import group_key_from_jwk, issuer_public_from_jwk
from ecert_token.keys.keydir import GROUP_JWK, ISSUER_JWK, KeyDir
from tests.conftest import NOW, deterministic_random
from tests.interop.conftest import CwtSide, CwtSideError

pytestmark = pytest.mark.interop

HOLDER = "E4Q7ZK2M9PXA"
MEMBER = "K8D2WQ5T7RNB"
ECERT_CLAIM = "-65537"


def b(data: bytes) -> dict[str, str]:
    """A CBOR byte string as cwt_side.py writes it in JSON."""
    return {"bytes": data.hex()}


def claims_json(sub: str, token_id: bytes, fields: list[Any]) -> dict[str, Any]:
    """The CWT claims map of a 60 s token issued at NOW: sub, exp, iat, cti, e-cert array."""
    return {"2": sub, "4": NOW + 60, "6": NOW, "7": b(token_id), ECERT_CLAIM: fields}


# [region, insurance type, business type, channel, masked name, subject kind, actor?]
HOLDER_FIELDS = [110105, 310, 1101, 2, "张*丰", 1]
MEMBER_FIELDS = [110105, 390, 1101, 2, "张*", 1, HOLDER]


@pytest.mark.parametrize("who", ["holder", "member"])
def test_python_cwt_reads_our_token(
    *, who: str, cwt_side: CwtSide, keydir_path: Path, keys: KeyDir, issuer: Issuer,
    family: FamilyAccount, verifier: Verifier,
) -> None:
    if who == "holder":
        token = issuer.mint(family.holder, BusinessType.HOSPITAL_REGISTRATION)
        sub, fields = HOLDER, HOLDER_FIELDS
    else:
        token = issuer.mint_for_member(family, MEMBER, BusinessType.HOSPITAL_REGISTRATION)
        sub, fields = MEMBER, MEMBER_FIELDS
    token_id = verifier.check(token, BusinessType.HOSPITAL_REGISTRATION, now=NOW).claims.token_id

    seen = cwt_side.call("read", keydir=str(keydir_path), token=token)

    assert seen["encrypt0"]["tag"] == 16
    assert seen["encrypt0"]["protected"] == {"1": 10, "4": b(keys.group_key.kid)}
    iv = seen["encrypt0"]["unprotected"]
    assert list(iv) == ["5"] and len(bytes.fromhex(iv["5"]["bytes"])) == 13
    assert seen["sign1"]["tag"] == 18
    assert seen["sign1"]["protected"] == {"1": -8, "4": b(keys.signing_key.kid)}
    assert seen["sign1"]["unprotected"] == {}
    assert seen["claims"] == claims_json(sub, token_id, fields)
    assert seen["claims_nested"] == seen["claims"]


def test_python_cwt_refuses_our_token_with_another_group_key(
    cwt_side: CwtSide, keydir_path: Path, issuer: Issuer, family: FamilyAccount, tmp_path: Path,
) -> None:
    """Control: the reader really decrypts (a wrong key of the same kid fails)."""
    token = issuer.mint(family.holder, BusinessType.HOSPITAL_REGISTRATION)
    other = tmp_path / "keys"
    other.mkdir()
    for name in (ISSUER_JWK, GROUP_JWK):
        jwk = json.loads((keydir_path / name).read_text("utf-8"))
        if name == GROUP_JWK:
            jwk["k"] = "AAAAAAAAAAAAAAAAAAAAAA"
        (other / name).write_text(json.dumps(jwk), "utf-8")
    with pytest.raises(CwtSideError, match="DecodeError"):
        cwt_side.call("read", keydir=str(other), token=token)


def _mint_with_cwt(
    cwt_side: CwtSide, keydir_path: Path, claims: dict[str, Any], seed: bytes,
    *, variant: str = "strict", layer: str | None = None,
) -> str:
    random = deterministic_random(seed)
    text: str = cwt_side.call(
        "mint", keydir=str(keydir_path), claims=claims, iv=random(13).hex(),
        variant=variant, layer=layer,
    )
    return text


@pytest.mark.parametrize("who", ["holder", "member"])
def test_our_verifier_accepts_a_python_cwt_token(
    who: str, cwt_side: CwtSide, keydir_path: Path, keys: KeyDir, verifier: Verifier,
) -> None:
    token_id = deterministic_random(b"cwt-" + who.encode())(8)
    sub, fields = (HOLDER, HOLDER_FIELDS) if who == "holder" else (MEMBER, MEMBER_FIELDS)
    token = _mint_with_cwt(cwt_side, keydir_path, claims_json(sub, token_id, fields), b"iv")
    assert token.startswith("EC1:")

    result = verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)

    assert result.claims == TokenClaims(
        token_id=token_id,
        issued_at=NOW,
        expires_at=NOW + 60,
        credential_id=sub,
        subject_kind=SubjectKind.INSURED_PERSON,
        region=Region("110105"),
        insurance_type=(
            InsuranceType.EMPLOYEE_BASIC if who == "holder" else InsuranceType.RESIDENT_BASIC
        ),
        masked_name="张*丰" if who == "holder" else "张*",
        business_type=BusinessType.HOSPITAL_REGISTRATION,
        channel=Channel.WECHAT,
        actor_id=None if who == "holder" else HOLDER,
    )
    assert (result.issuer, result.issuer_kid, result.group_kid) == (
        "NHSA", keys.signing_key.kid, keys.group_key.kid,
    )


@pytest.mark.parametrize("layer", ["sign1", "encrypt0"])
@pytest.mark.parametrize("variant", ["kid_unprotected", "crit"])
def test_our_verifier_refuses_python_cwt_headers_outside_the_format(
    variant: str, layer: str, cwt_side: CwtSide, keydir_path: Path, verifier: Verifier,
) -> None:
    """kid only in the unprotected header, or a crit header: refused as malformed."""
    claims = claims_json(HOLDER, bytes(range(8)), HOLDER_FIELDS)
    token = _mint_with_cwt(
        cwt_side, keydir_path, claims, b"iv-neg", variant=variant, layer=layer
    )

    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)
    assert info.value.code is ErrorCode.MALFORMED


def test_keydir_jwks_import_into_python_cwt(
    cwt_side: CwtSide, keydir_path: Path, keys: KeyDir,
) -> None:
    imported = cwt_side.call("import_jwk", keydir=str(keydir_path))

    issuer = imported[ISSUER_JWK]
    assert (issuer["kty"], issuer["crv"], issuer["alg"]) == (1, 6, -8)  # OKP, Ed25519, EdDSA
    assert issuer["key"] == keys.signing_key.public.public_key.raw.hex()
    assert issuer["kid"] == keys.signing_key.kid.hex()
    group = imported[GROUP_JWK]
    assert (group["kty"], group["alg"]) == (4, 10)  # Symmetric, AES-CCM-16-64-128
    assert group["key"] == keys.group_key.secret.hex()
    assert group["kid"] == keys.group_key.kid.hex()
    # python-cwt takes a JWK kid string as UTF-8 bytes, not as base64url: a
    # reader must decode it (docs/interop.md), as cwt_side.py does.
    issuer_jwk = json.loads((keydir_path / ISSUER_JWK).read_text("utf-8"))
    assert bytes.fromhex(issuer["kid_as_is"]) == issuer_jwk["kid"].encode()


def test_keydir_jwks_import_back_into_ecert_token(keydir_path: Path, keys: KeyDir) -> None:
    """The same files python-cwt read above give our own importers the same keys."""
    issuer_jwk = json.loads((keydir_path / ISSUER_JWK).read_text("utf-8"))
    group_jwk = json.loads((keydir_path / GROUP_JWK).read_text("utf-8"))
    public = issuer_public_from_jwk(issuer_jwk, "NHSA")
    assert (public.kid, public.public_key.raw) == (
        keys.signing_key.kid, keys.signing_key.public.public_key.raw,
    )
    group = group_key_from_jwk(group_jwk, "national")
    assert (group.kid, group.secret) == (keys.group_key.kid, keys.group_key.secret)


def _docs_reader(tmp_path: Path) -> Path:
    """The reader script of docs/interop.md, written out as a file."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "interop.md").read_text("utf-8")
    block = text.split("<!-- interop-reader: the tests run this block -->\n```python\n", 1)[1]
    script = tmp_path / "read_ecert.py"
    script.write_text(block.split("\n```\n", 1)[0] + "\n", "utf-8")
    return script


def test_docs_reader_script_reads_our_token(
    *, cwt_side: CwtSide, keydir_path: Path, issuer: Issuer, family: FamilyAccount,
    verifier: Verifier, tmp_path: Path,
) -> None:
    script = _docs_reader(tmp_path)
    token = issuer.mint_for_member(family, MEMBER, BusinessType.HOSPITAL_REGISTRATION)
    ours = verifier.check(token, BusinessType.HOSPITAL_REGISTRATION, now=NOW).to_dict()

    def run(now: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cwt_side.python), str(script), str(keydir_path), token, str(now)],
            capture_output=True, text=True, timeout=120, check=False,
        )

    done = run(NOW + 10)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed == {
        "credential_id": MEMBER, "actor_id": HOLDER, "region": "110105",
        "insurance_type": "390", "business_type": "01101", "channel": "2",
        "masked_name": "张*", "subject_kind": "1", "issued_at": NOW, "expires_at": NOW + 60,
        "token_id": ours["token_id"],
    }
    assert {k: ours["insured_region" if k == "region" else k] for k in printed} == printed

    expired = run(NOW + 65)
    assert expired.returncode != 0 and "expired" in expired.stderr
