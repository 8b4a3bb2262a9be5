"""Nothing personal or secret in repr(): a frozen dataclass's default repr prints every
field, and reprs reach logs through ``log.info("%r", result)``, tracebacks with locals
and error reporters.  Credential ids are linkable identifiers and masked names
personal data under the PIPL (docs/security.md), so they stay out."""

from __future__ import annotations

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    FamilyAccount,
    FixedClock,
    Issuer,
    TokenRejected,
    Verifier,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.trust import RootSigningKey

REG = BusinessType.HOSPITAL_REGISTRATION


def leaks(text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s and s in text]


def test_verified_token_and_claims_reprs_hold_no_personal_data(
    verifier: Verifier, issuer: Issuer, family: FamilyAccount, clock: FixedClock
) -> None:
    member = family.members[0]
    token = issuer.mint_for_member(family, member.credential_id, REG)
    verified = verifier.verify(token, REG)
    personal = (member.credential_id, family.holder.credential_id, member.masked_name)
    for obj in (verified, verified.claims, member, family.holder, family):
        assert leaks(repr(obj), *personal) == [], type(obj).__name__
        assert leaks(str(obj), *personal) == [], type(obj).__name__
    assert leaks(repr(verified), token, token[4:40]) == []
    # Still useful for debugging: what kind of token, for which step and region.
    assert "01101" in repr(verified) and "110105" in repr(verified)
    assert repr(verified.claims.token_id) in repr(verified.claims)
    # The fields themselves are unchanged.
    assert verified.subject == member.credential_id
    assert verified.to_dict()["masked_name"] == member.masked_name


def test_key_reprs_hold_no_key_bytes(keys: KeyDir) -> None:
    group, signing = keys.group_key, keys.signing_key
    root = RootSigningKey.generate(lambda n: bytes(range(n)))
    texts = [repr(group), repr(signing), repr(signing.public), repr(signing.private_key),
             repr(keys.trust_store().issuer_keys), repr(keys.issuer_ring), repr(root),
             repr(root.root)]
    for text in texts:
        assert leaks(text, group.secret.hex(), signing.private_key.seed.hex(),
                     root.private_key.seed.hex(), str(group.secret),
                     str(signing.private_key.seed)) == [], text


def test_rejections_hold_no_token_text(verifier: Verifier, token: str) -> None:
    verifier.verify(token, REG)
    for bad in (token, token[:-3], token + "AB", "EC1:" + token[4:].replace("A", "B", 1)):
        with pytest.raises(TokenRejected) as info:
            verifier.verify(bad, REG)
        err = info.value
        assert leaks(str(err) + repr(err) + repr(err.to_dict()), bad[4:24]) == []


def test_credential_repr_keeps_its_non_personal_fields(credential: Credential) -> None:
    text = repr(credential)
    assert "110105" in text and credential.credential_id not in text
