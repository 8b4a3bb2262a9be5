from ecert_token import BusinessType, FixedClock, MemoryReplayStore, TrustStore, Verifier
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


def test_default_store_fence_lasts_as_long_as_a_fenced_token_can_be_valid(
    keys: object, clock: FixedClock
) -> None:
    """The last fenced iat is B + leeway; such a token is valid until iat + max_lifetime +
    leeway, so the default store must report the fence as mattering at least that long."""
    policy = VerifyPolicy(clock=clock, leeway=5, max_lifetime=60)
    trust: TrustStore = keys.trust_store()  # type: ignore[attr-defined]
    store = Verifier(trust, policy).replay_store
    assert isinstance(store, MemoryReplayStore)
    last_fenced_iat = store.memory_began + policy.leeway
    assert store.fenced_until >= last_fenced_iat + policy.max_lifetime + policy.leeway
