"""Fixtures of the settlement tests: an issuer that mints for settlement, a real
SQLite person registry, a registered Chinese citizen and a registered foreigner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ecert_token import (
    Channel,
    Credential,
    FixedClock,
    InsuranceType,
    Issuer,
    PsnCertType,
    Region,
    mask_name,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.terminal import TerminalSigningKey, new_terminal_key
from ecert_token.settlement import (
    Person,
    PersonRegistry,
    RecordVerifier,
    Resolver,
    settlement_token_ids,
)
from tests.conftest import NOW, deterministic_random

CITIZEN_ID = "11010519491231002X"
"""A resident ID number with a valid check character (not a real person's)."""


@pytest.fixture
def settling_issuer(keys: KeyDir) -> Issuer:
    return Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                  random_bytes=deterministic_random(b"mint"),
                  token_ids=settlement_token_ids(keys.signing_key, deterministic_random(b"salt")))


@pytest.fixture
def citizen(credential: Credential) -> Person:
    return Person(credential.credential_id, PsnCertType.RESIDENT_ID_CARD, CITIZEN_ID, "张三丰",
                  credential.region, credential.insurance_type)


@pytest.fixture
def foreigner_credential() -> Credential:
    return Credential("FRGN7Q2K9M", Region("310115"), InsuranceType.EMPLOYEE_BASIC,
                      mask_name("Amelia Watson-Clarke"), Channel.NATIONAL_SERVICE_APP, NOW - 999)


@pytest.fixture
def foreigner(foreigner_credential: Credential) -> Person:
    return Person(foreigner_credential.credential_id, PsnCertType.FOREIGN_PASSPORT, "GB1234567",
                  "Amelia Watson-Clarke", foreigner_credential.region,
                  foreigner_credential.insurance_type)


@pytest.fixture
def registry(tmp_path: Path, citizen: Person, foreigner: Person) -> Iterator[PersonRegistry]:
    with PersonRegistry(tmp_path / "platform.db", clock=FixedClock(NOW)) as reg:
        reg.add(citizen)
        reg.add(foreigner)
        yield reg


@pytest.fixture
def resolver(keys: KeyDir, registry: PersonRegistry) -> Resolver:
    return Resolver(keys.issuer_ring, registry, clock=FixedClock(NOW))


@pytest.fixture
def till() -> TerminalSigningKey:
    """A pharmacy till's terminal key (filing number, institution code)."""
    return new_terminal_key("T3101150001", "P31011500017", deterministic_random(b"till"))


@pytest.fixture
def kiosk() -> TerminalSigningKey:
    """A second, separate offline terminal of another pharmacy."""
    return new_terminal_key("T3101150002", "P31011500025", deterministic_random(b"kiosk"))


@pytest.fixture
def records(till: TerminalSigningKey, kiosk: TerminalSigningKey) -> RecordVerifier:
    return RecordVerifier([till.public, kiosk.public])
