"""Version-2 handles: a holder presentation's ``mdtrt_cert_no``, resolved by the platform.

The phone gets the handle key ``Kd`` with its credential at activation and puts
the tag in its presentation id; the terminal composes the 34-character handle
with no key; the platform resolves it to the person and refuses forged,
altered and expired handles.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ecert_token import ErrorCode, FixedClock, Verifier, VerifyPolicy
from ecert_token.errors import EcertError
from ecert_token.holder.presentation import present
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.model import BusinessType, PsnCertType, Region
from ecert_token.model.codes import InsuranceType
from ecert_token.model.settlement import (
    HOLDER_HANDLE_CHARS,
    HOLDER_HANDLE_VERSION,
    parse_handle,
)
from ecert_token.registry import ActivationRegistry, HolderPlatform
from ecert_token.settlement import Person, PersonRegistry, Resolver
from ecert_token.settlement.handles import HandleKey
from ecert_token_tools.vectors import seeded_random
from tests.conftest import NOW
from tests.holder.conftest import HOLDER, MEMBER, activation, device

PHARMACY = BusinessType.PHARMACY_PURCHASE


def _flip(handle: str, index: int) -> str:
    raw = bytearray(base64.b32decode(handle + "======"))
    raw[index] ^= 0x01
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


@pytest.fixture
def world(tmp_path: Path, keys: KeyDir) -> tuple[HolderPlatform, PersonRegistry, Resolver]:
    db = tmp_path / "platform.db"
    platform = HolderPlatform(ActivationRegistry(db), keys.signing_key,
                              clock=FixedClock(NOW - 3600))
    persons = PersonRegistry(db)
    persons.put(Person(HOLDER, PsnCertType.FOREIGNER_PERMANENT_RESIDENCE, "USA110105800101",
                       "Emily Zhang-Brown", Region("110105"), InsuranceType.EMPLOYEE_BASIC))
    return platform, persons, Resolver(keys.issuer_ring, persons, clock=FixedClock(NOW + 60))


def _handle(keys: KeyDir, blob: bytes, handle_key: bytes | None, seed: bytes = b"x") -> str:
    text = present(blob, device(b"phone"), PHARMACY, now=NOW, handle_key=handle_key,
                   random_bytes=seeded_random(seed))
    verified = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW))).check(
        text, PHARMACY, now=NOW)
    handle = verified.settlement.mdtrt_cert_no
    assert handle is not None
    return handle


def test_a_presentation_handle_resolves_to_the_person(
        keys: KeyDir, world: tuple[HolderPlatform, PersonRegistry, Resolver]) -> None:
    platform, _, resolver = world
    issued = platform.activate(activation(HOLDER, device(b"phone")))
    handle = _handle(keys, issued.file.sealed, issued.file.handle_key)
    assert len(handle) == HOLDER_HANDLE_CHARS <= 40
    assert parse_handle(handle).version == HOLDER_HANDLE_VERSION
    assert parse_handle(handle.lower()) == parse_handle(handle)
    resolved = resolver.resolve(handle)
    assert resolved.person.psn_name == "Emily Zhang-Brown"
    assert resolved.person.psn_cert_type is PsnCertType.FOREIGNER_PERMANENT_RESIDENCE
    assert resolved.handle.credential_id == HOLDER
    # Handles differ per presentation (salt and tag), and each resolves.
    other = _handle(keys, issued.file.sealed, issued.file.handle_key, b"y")
    assert other != handle and resolver.resolve(other).person.credential_id == HOLDER


def test_forged_altered_and_expired_handles_are_refused(
        keys: KeyDir, world: tuple[HolderPlatform, PersonRegistry, Resolver]) -> None:
    platform, persons, resolver = world
    issued = platform.activate(activation(HOLDER, device(b"phone")))
    handle = _handle(keys, issued.file.sealed, issued.file.handle_key)
    cases = {0: ErrorCode.HANDLE_MALFORMED,          # version byte
             2: ErrorCode.HANDLE_INVALID,            # expiry
             5: ErrorCode.HANDLE_INVALID,            # salt
             9: ErrorCode.HANDLE_INVALID,            # tag
             15: ErrorCode.PERSON_NOT_REGISTERED}    # ref
    for index, code in cases.items():
        with pytest.raises(EcertError) as info:
            resolver.resolve(_flip(handle, index))
        assert info.value.code is code, index
    for bad in (handle[:-1], handle + "A", handle[:-1] + "B", "!" * 34):
        with pytest.raises(EcertError) as info:
            resolver.resolve(bad)
        assert info.value.code is ErrorCode.HANDLE_MALFORMED
    with pytest.raises(EcertError) as info:
        resolver.resolve(handle, now=NOW + 60 + 900 + 1)
    assert info.value.code is ErrorCode.HANDLE_EXPIRED
    # A phone without a handle key (random ids): the terminal still composes a handle,
    # the platform refuses it.
    with pytest.raises(EcertError) as info:
        resolver.resolve(_handle(keys, issued.file.sealed, None))
    assert info.value.code is ErrorCode.HANDLE_INVALID
    # Another person's handle key (a phone making handles for someone else) fails.
    persons.put(Person(MEMBER, PsnCertType.RESIDENT_ID_CARD, "11010519491231002X", "李四",
                       Region("110105"), InsuranceType.EMPLOYEE_BASIC))
    stolen = HandleKey.of(keys.signing_key).holder_key(MEMBER)
    with pytest.raises(EcertError) as info:
        resolver.resolve(_handle(keys, issued.file.sealed, stolen))
    assert info.value.code is ErrorCode.HANDLE_INVALID
    # Another platform's key: invalid.
    stranger = generate(issuer="NHSA", random_bytes=seeded_random(b"other platform"))
    with pytest.raises(EcertError) as info:
        Resolver(stranger.issuer_ring, persons, clock=FixedClock(NOW)).resolve(handle)
    assert info.value.code is ErrorCode.HANDLE_INVALID


def test_a_family_members_code_resolves_to_the_member(
        keys: KeyDir, world: tuple[HolderPlatform, PersonRegistry, Resolver]) -> None:
    platform, persons, resolver = world
    platform.activate(activation(HOLDER, device(b"phone")))
    persons.put(Person(MEMBER, PsnCertType.RESIDENT_ID_CARD, "11010519491231002X", "李小龙",
                       Region("110105"), InsuranceType.EMPLOYEE_BASIC))
    member = platform.add_family_member(HOLDER, activation(MEMBER, device(b"unused")))
    handle = _handle(keys, member.file.sealed, member.file.handle_key)
    assert resolver.resolve(handle).person.psn_name == "李小龙"
