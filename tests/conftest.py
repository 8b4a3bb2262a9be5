"""Shared fixtures: deterministic keys, a sample credential, a fixed clock.

Every area's tests live in their own folder (core, replay, interop, trust,
sdk, cli) and may add a conftest.py there; fixtures used by more than one
area live here.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    FamilyAccount,
    FixedClock,
    Issuer,
    MemoryReplayStore,
    TrustStore,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.vectors import sample_family, sample_person
from ecert_token.vectors import seeded_random as deterministic_random

NOW = 1_790_000_000
"""A fixed 'now' (2026-09-21) used across tests."""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def keys() -> KeyDir:
    return generate(issuer="NHSA", group="national", random_bytes=deterministic_random(b"keys"))


@pytest.fixture
def credential() -> Credential:
    return sample_person()


@pytest.fixture
def family() -> FamilyAccount:
    return sample_family()


@pytest.fixture
def issuer(keys: KeyDir, clock: FixedClock) -> Issuer:
    return Issuer(
        keys.signing_key, keys.group_key, clock=clock, random_bytes=deterministic_random(b"mint")
    )


def running_store(
    started: int = NOW - 3600, max_lifetime: int = 305, leeway: int = 5
) -> MemoryReplayStore:
    """An in-memory replay store whose memory began at ``started`` (default: an hour
    before NOW), as in a terminal that has been running.  A store created at NOW
    would fence tokens issued at NOW (restart fencing), which is right for a
    freshly started process and wrong for most tests."""
    return MemoryReplayStore(max_lifetime=max_lifetime, clock=lambda: started, leeway=leeway)


def running_verifier(
    trust: TrustStore, clock: FixedClock | None = None, **policy: Any
) -> Verifier:
    """A verifier at ``clock`` (default NOW) whose replay memory began an hour earlier."""
    return Verifier(
        trust, VerifyPolicy(clock=clock or FixedClock(NOW), **policy),
        running_store(leeway=policy.get("leeway", 5)),
    )


@pytest.fixture
def verifier(keys: KeyDir, clock: FixedClock) -> Verifier:
    return running_verifier(keys.trust_store(), clock)


@pytest.fixture
def token(issuer: Issuer, credential: Credential) -> str:
    return issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION)
