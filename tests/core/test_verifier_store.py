from ecert_token import BusinessType, FixedClock, TrustStore, Verifier
from ecert_token.token import VerifyPolicy
from tests.conftest import running_store


def test_an_empty_store_given_by_the_caller_is_the_one_used(
    keys: object, token: str, clock: FixedClock
) -> None:
    store = running_store()
    assert store.held() == 0
    trust: TrustStore = keys.trust_store()  # type: ignore[attr-defined]
    verifier = Verifier(trust, VerifyPolicy(clock=clock), store)
    assert verifier.replay_store is store
    verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)
    assert store.held() == 1
