from ecert_token import BusinessType, Verifier


def test_mint_then_verify(token: str, verifier: Verifier) -> None:
    result = verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)
    assert result.claims.credential_id == "E4Q7ZK2M9PXA"
    assert len(token) <= 280
