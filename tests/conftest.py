"""Shared fixtures: deterministic keys, a sample credential, a fixed clock.

Every area's tests live in their own folder (core, replay, interop, trust,
sdk, cli) and may add a conftest.py there; fixtures used by more than one
area live here.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from ecert_token_tools.vectors import sample_family, sample_person
from ecert_token_tools.vectors import seeded_random as deterministic_random

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


class Impl:
    """One implementation of the pipeline and codecs: ``python`` (the Python stages,
    accelerator off) or ``accelerated`` (the compiled accelerator, where it answers)."""

    def __init__(self, name: str) -> None:
        from ecert_token import _speedups

        self.name = name
        self.extension = _speedups.extension if name == "accelerated" else None

    @property
    def accelerated(self) -> bool:
        return self.extension is not None

    def b45decode(self, text: str) -> bytes:
        """Base45 as this implementation decodes it: the extension's answer where it
        gives one (which must be exactly the Python one), else the Python decoder's
        answer or error."""
        from ecert_token.codec import base45

        if self.extension is not None:
            data: bytes | None = self.extension.b45decode(text)
            if data is not None:
                assert data == base45.b45decode(text)
                return data
        return base45.b45decode(text)

    def b45encode(self, data: bytes) -> str:
        from ecert_token.codec import base45

        if self.extension is not None:
            text: str | None = self.extension.b45encode(data)
            if text is not None:
                assert text == base45.b45encode(data)
                return text
        return base45.b45encode(data)

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(scope="module", params=["python", "accelerated"])
def impl(request: pytest.FixtureRequest) -> Iterator[Impl]:
    """THE implementation fixture: every verifier and codec test runs on both.

    ``python`` switches the compiled accelerator and minter off for the module's
    tests (the pipeline's Python stages answer everything, and Issuers made in
    them mint in Python); ``accelerated`` keeps them on.
    Without the extension the accelerated runs are skipped, or fail under
    ``ECERT_REQUIRE_SPEEDUPS=1`` (CI).
    """
    from ecert_token import _speedups
    from ecert_token.token import mint, verify

    if request.param == "accelerated" and verify._accelerator is None:
        if _speedups.required():
            pytest.fail("ECERT_REQUIRE_SPEEDUPS=1 but the accelerator is not built")
        pytest.skip("the compiled accelerator is not built or is turned off")
    saved = verify._accelerator, mint._mint_token
    if request.param == "python":  # Issuers made from now on mint in Python too
        verify._accelerator = mint._mint_token = None
    try:
        yield Impl(request.param)
    finally:
        verify._accelerator, mint._mint_token = saved
