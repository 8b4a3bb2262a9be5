from ecert_token import BusinessType, FixedClock, MemoryReplayStore, TrustStore, Verifier
from ecert_token.token import VerifyPolicy


def test_an_empty_store_given_by_the_caller_is_the_one_used(
    keys: object, token: str, clock: FixedClock
) -> None:
    store = MemoryReplayStore(clock=clock)
    assert store.held() == 0
    trust: TrustStore = keys.trust_store()  # type: ignore[attr-defined]
    verifier = Verifier(trust, VerifyPolicy(clock=clock), store)
    assert verifier.replay_store is store
    verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)
    assert store.held() == 1
