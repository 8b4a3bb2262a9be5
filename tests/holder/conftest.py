"""Holder fixtures: an issuing platform on a real SQLite registry, phones, a terminal.

The terminal side holds only public trust material (the issuer's public key;
in sealed mode also the verifier group's key) and the status list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecert_token import FixedClock, TrustStore, Verifier, VerifyPolicy
from ecert_token.holder import PresentationVerifier, StatusListLoader
from ecert_token.holder.device import DeviceKey, new_device_key
from ecert_token.keys.keydir import KeyDir
from ecert_token.model import Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token_tools.vectors import seeded_random

from ..conftest import NOW, running_store

HOLDER = "E4Q7ZK2M9PXA"
MEMBER = "M7K2Q9ZX4PEA"


def activation(cert_id: str, device: DeviceKey, region: str = "110105",
               name: str = "张*丰") -> Activation:
    return Activation(cert_id, device.public_key.encoded, Region(region),
                      InsuranceType.EMPLOYEE_BASIC, name, Channel.WECHAT)


def device(seed: bytes, suite: str = "ed25519") -> DeviceKey:
    return new_device_key(seeded_random(seed), suite)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ActivationRegistry]:
    reg = ActivationRegistry(tmp_path / "registry.db")
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture
def platform(registry: ActivationRegistry, keys: KeyDir) -> HolderPlatform:
    """Open mode (the default): credentials are the issuer's signed CWT."""
    return HolderPlatform(registry, keys.signing_key, clock=FixedClock(NOW - 3600),
                          random_bytes=seeded_random(b"platform"))


@pytest.fixture
def public_trust(keys: KeyDir) -> TrustStore:
    """What an open-mode terminal holds: the issuer's public key only."""
    return TrustStore([k.public for k in keys.issuer_ring])


@dataclass
class Terminal:
    """A terminal at a settable time with a status-list loader and a running replay store."""

    clock: FixedClock
    status: StatusListLoader
    checker: PresentationVerifier
    verifier: Verifier


def make_terminal(trust: TrustStore, now: int = NOW, state_dir: Path | None = None) -> Terminal:
    clock = FixedClock(now)
    policy = VerifyPolicy(clock=clock)
    status = StatusListLoader(trust, state_dir, clock=clock)
    checker = PresentationVerifier(trust, policy, status)
    return Terminal(clock, status, checker,
                    Verifier(trust, policy, running_store(), presentations=checker))


@pytest.fixture
def terminal(public_trust: TrustStore) -> Terminal:
    return make_terminal(public_trust)
