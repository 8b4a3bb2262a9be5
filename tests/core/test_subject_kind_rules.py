"""The subject-kind business rule: units, staff, institutions and pharmacies never pay.

DOMAIN.md: "units, staff, institutions and pharmacies identify themselves for
their own business and never pay at a patient's payment step".  Minting such a
code is refused, and a verifier refuses one (made with the low-level
``mint_claims``, which skips the mint checks) with WRONG_BUSINESS_TYPE and one
fixed detail.
"""

from __future__ import annotations

import dataclasses

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    EcertError,
    ErrorCode,
    Issuer,
    SubjectKind,
    TokenClaims,
    TokenRejected,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.model.codes import PAYER_REFUSED
from tests.conftest import NOW, running_verifier

NON_PAYERS = [k for k in SubjectKind if k is not SubjectKind.INSURED_PERSON]
PAYMENT = [b for b in BusinessType if b.is_payment]
IDENTITY = [b for b in BusinessType if not b.is_payment]


def holder(credential: Credential, kind: SubjectKind) -> Credential:
    return dataclasses.replace(credential, subject_kind=kind)


@pytest.mark.parametrize("kind", NON_PAYERS)
@pytest.mark.parametrize("business", PAYMENT)
def test_minting_a_payment_code_for_a_non_payer_is_refused(
    issuer: Issuer, credential: Credential, kind: SubjectKind, business: BusinessType
) -> None:
    with pytest.raises(EcertError) as info:
        issuer.mint(holder(credential, kind), business)
    assert info.value.code is ErrorCode.WRONG_BUSINESS_TYPE
    assert info.value.detail == PAYER_REFUSED


@pytest.mark.parametrize("kind", NON_PAYERS)
@pytest.mark.parametrize("business", PAYMENT)
def test_verifying_a_forged_payment_code_of_a_non_payer_is_refused(
    keys: KeyDir, issuer: Issuer, credential: Credential, kind: SubjectKind,
    business: BusinessType,
) -> None:
    claims = TokenClaims(b"\x01" * 8, NOW, NOW + 60, credential.credential_id, kind,
                         credential.region, credential.insurance_type, credential.masked_name,
                         business, credential.channel)
    token = issuer.mint_claims(claims)  # the low-level step: no mint-time rule
    verifier = running_verifier(keys.trust_store())
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, business, now=NOW)
    assert info.value.code is ErrorCode.WRONG_BUSINESS_TYPE
    assert info.value.detail == PAYER_REFUSED
    [many] = running_verifier(keys.trust_store()).verify_many([token], business, now=NOW)
    assert isinstance(many, TokenRejected)
    assert (many.code, many.detail) == (ErrorCode.WRONG_BUSINESS_TYPE, PAYER_REFUSED)


@pytest.mark.parametrize("kind", list(SubjectKind))
@pytest.mark.parametrize("business", IDENTITY)
def test_every_holder_kind_identifies_itself(
    keys: KeyDir, issuer: Issuer, credential: Credential, kind: SubjectKind,
    business: BusinessType,
) -> None:
    token = issuer.mint(holder(credential, kind), business)
    result = running_verifier(keys.trust_store()).verify(token, business, now=NOW)
    assert result.claims.subject_kind is kind


@pytest.mark.parametrize("business", PAYMENT)
def test_an_insured_person_pays(
    keys: KeyDir, issuer: Issuer, credential: Credential, business: BusinessType
) -> None:
    token = issuer.mint(credential, business)
    assert running_verifier(keys.trust_store()).verify(token, business, now=NOW).business_class
