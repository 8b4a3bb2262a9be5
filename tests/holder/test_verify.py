"""Offline end to end: activate on the platform, present on the phone with no network, verify
at a terminal that holds only public trust material and the status list."""

from __future__ import annotations

import pytest

from ecert_token import BusinessType, FixedClock, TokenRejected, TrustStore, VerifyPolicy
from ecert_token.errors import ErrorCode
from ecert_token.holder import PresentationVerifier, present
from ecert_token.holder.verify import VerifiedPresentation
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import IssuerVerifyKey, KeyState
from ecert_token.registry import HolderPlatform

from ..conftest import NOW
from .conftest import HOLDER, MEMBER, Terminal, activation, device, make_terminal, seeded_random

REG = BusinessType.HOSPITAL_REGISTRATION
PAY = BusinessType.HOSPITAL_SETTLEMENT


def _code(fn: object, *args: object, **kw: object) -> ErrorCode:
    with pytest.raises(TokenRejected) as info:
        fn(*args, **kw)  # type: ignore[operator]
    return info.value.code


def _status(platform: HolderPlatform, terminal: Terminal, at: int = NOW - 60) -> None:
    data, _ = platform.status_list(now=at)
    terminal.status.offer(data, now=at)


def test_offline_end_to_end(platform: HolderPlatform, terminal: Terminal) -> None:
    phone = device(b"phone")
    issued = platform.activate(activation(HOLDER, phone))
    _status(platform, terminal)
    text = present(issued.file.sealed, phone, REG, now=NOW - 5,
                   random_bytes=seeded_random(b"p"))
    assert text.startswith("EP1:") and len(text) <= 483
    result = terminal.verifier.verify(text, REG)
    assert isinstance(result, VerifiedPresentation)
    assert result.subject == HOLDER and result.actor is None
    assert result.status_checked is True
    assert result.claims.region.code == "110105" and result.claims.masked_name == "张*丰"
    assert result.claims.business_type is REG
    assert result.to_dict()["mode"] == "holder"
    assert _code(terminal.verifier.verify, text, REG) is ErrorCode.REPLAYED
    assert _code(terminal.verifier.verify, text.encode(), REG) is ErrorCode.REPLAYED  # bytes too
    again = present(issued.file.sealed, phone, REG, now=NOW - 4)
    assert terminal.verifier.verify(again.encode("ascii"), REG).subject == HOLDER


def test_one_verifier_accepts_both_kinds(platform: HolderPlatform, keys: KeyDir) -> None:
    from ecert_token import Issuer

    from .conftest import make_terminal

    terminal = make_terminal(keys.trust_store())
    phone = device(b"phone")
    issued = platform.activate(activation(HOLDER, phone))
    code = Issuer(keys.signing_key, keys.group_key).mint(_person(), REG, now=NOW)
    text = present(issued.file.sealed, phone, REG, now=NOW)
    assert not isinstance(terminal.verifier.verify(code, REG), VerifiedPresentation)
    assert terminal.verifier.verify(text, REG).subject == HOLDER
    results = terminal.verifier.verify_many(
        [code, text, "EP1:garbage", text, present(issued.file.sealed, phone, REG, now=NOW)],
        REG)
    assert [type(r).__name__ for r in results] == [
        "TokenRejected", "TokenRejected", "TokenRejected", "TokenRejected",
        "VerifiedPresentation"]
    assert [getattr(r, "code", None) for r in results[:4]] == [
        ErrorCode.REPLAYED, ErrorCode.REPLAYED, ErrorCode.MALFORMED, ErrorCode.REPLAYED]


def _person():  # type: ignore[no-untyped-def]
    from ecert_token import Channel, Credential, InsuranceType, Region

    return Credential(HOLDER, Region("110105"), InsuranceType.EMPLOYEE_BASIC, "张*丰",
                      Channel.WECHAT, NOW - 86_400)


def test_without_status_list_status_not_checked(platform: HolderPlatform,
                                                public_trust: TrustStore) -> None:
    phone = device(b"phone")
    issued = platform.activate(activation(HOLDER, phone))
    checker = PresentationVerifier(public_trust, VerifyPolicy(clock=FixedClock(NOW)))
    result = checker.check(present(issued.file.sealed, phone, REG, now=NOW), REG, now=NOW)
    assert result.status_checked is False
    assert result.to_dict()["status_checked"] is False


def test_another_devices_key_is_refused(platform: HolderPlatform, terminal: Terminal) -> None:
    issued = platform.activate(activation(HOLDER, device(b"phone")))
    text = present(issued.file.sealed, device(b"thief"), REG, now=NOW)
    assert _code(terminal.checker.check, text, REG, now=NOW) is ErrorCode.BAD_SIGNATURE


def test_revoked_and_stale_are_refused(platform: HolderPlatform, terminal: Terminal) -> None:
    phone = device(b"phone")
    issued = platform.activate(activation(HOLDER, phone))
    other = platform.activate(activation("OTHER12345", device(b"other")))
    platform.unbind(HOLDER, now=NOW - 100)
    _status(platform, terminal)
    text = present(issued.file.sealed, phone, REG, now=NOW)
    assert _code(terminal.checker.check, text, REG, now=NOW) is ErrorCode.CREDENTIAL_REVOKED
    assert terminal.checker.check(present(other.file.sealed, device(b"other"), REG, now=NOW),
                                  REG, now=NOW).status_checked
    later = NOW + 48 * 3600
    text = present(other.file.sealed, device(b"other"), REG, now=later)
    assert _code(terminal.checker.check, text, REG, now=later) is ErrorCode.STATUS_LIST_STALE
    # a list just inside its refusal age still answers
    inside = present(other.file.sealed, device(b"other"), REG, now=later - 120)
    assert terminal.checker.check(inside, REG, now=later - 120).status_checked


def test_platform_codes_unaffected_by_a_stale_list(platform: HolderPlatform,
                                                    keys: KeyDir) -> None:
    from ecert_token import Issuer

    terminal = make_terminal(keys.trust_store())
    _status(platform, terminal, at=NOW - 49 * 3600)  # stale at NOW
    code = Issuer(keys.signing_key, keys.group_key).mint(_person(), REG, now=NOW)
    assert terminal.verifier.verify(code, REG).subject == HOLDER


def test_reactivation_on_a_new_phone_revokes_the_old(platform: HolderPlatform,
                                                     terminal: Terminal) -> None:
    old_phone, new_phone = device(b"old"), device(b"new")
    old = platform.activate(activation(HOLDER, old_phone), now=NOW - 7200)
    new = platform.activate(activation(HOLDER, new_phone), now=NOW - 3600)
    assert new.revoked == (old.record.status_idx,)
    _status(platform, terminal)
    old_text = present(old.file.sealed, old_phone, REG, now=NOW)
    assert _code(terminal.checker.check, old_text, REG, now=NOW) is ErrorCode.CREDENTIAL_REVOKED
    new_text = present(new.file.sealed, new_phone, REG, now=NOW)
    assert terminal.checker.check(new_text, REG, now=NOW).subject == HOLDER


def test_family_member_code_shown_by_the_holder(platform: HolderPlatform,
                                                terminal: Terminal) -> None:
    phone = device(b"phone")
    platform.activate(activation(HOLDER, phone))
    delegation = platform.add_family_member(HOLDER, activation(MEMBER, device(b"unused"),
                                                               name="李*"))
    _status(platform, terminal)
    text = present(delegation.file.sealed, phone, REG, now=NOW)
    result = terminal.checker.check(text, REG, now=NOW)
    assert result.subject == MEMBER and result.actor == HOLDER
    assert result.to_dict()["actor_id"] == HOLDER
    stranger = present(delegation.file.sealed, device(b"stranger"), REG, now=NOW)
    assert _code(terminal.checker.check, stranger, REG, now=NOW) is ErrorCode.BAD_SIGNATURE


def test_unbinding_the_holder_ends_delegations(platform: HolderPlatform,
                                               terminal: Terminal) -> None:
    phone = device(b"phone")
    platform.activate(activation(HOLDER, phone))
    delegation = platform.add_family_member(HOLDER, activation(MEMBER, phone, name="李*"))
    revoked = platform.unbind(HOLDER, now=NOW - 600)
    assert delegation.record.status_idx in revoked
    _status(platform, terminal)
    text = present(delegation.file.sealed, phone, REG, now=NOW)
    assert _code(terminal.checker.check, text, REG, now=NOW) is ErrorCode.CREDENTIAL_REVOKED


def test_sealed_mode_needs_the_group_key(registry: object, keys: KeyDir,
                                         public_trust: TrustStore) -> None:
    from ecert_token.registry import ActivationRegistry

    assert isinstance(registry, ActivationRegistry)
    sealed = HolderPlatform(registry, keys.signing_key, keys.group_key,
                            clock=FixedClock(NOW - 3600))
    phone = device(b"phone")
    issued = sealed.activate(activation(HOLDER, phone))
    assert issued.file.sealed[:1] == b"\xd0"  # a COSE_Encrypt0 the phone cannot read
    text = present(issued.file.sealed, phone, REG, now=NOW)
    no_group = PresentationVerifier(public_trust, VerifyPolicy())
    assert _code(no_group.check, text, REG, now=NOW) is ErrorCode.UNKNOWN_KEY
    with_group = PresentationVerifier(keys.trust_store(), VerifyPolicy())
    result = with_group.check(text, REG, now=NOW)
    assert result.subject == HOLDER and result.group_kid == keys.group_key.kid


def test_time_business_and_region_checks(platform: HolderPlatform, keys: KeyDir,
                                         terminal: Terminal) -> None:
    phone = device(b"phone")
    issued = platform.activate(activation(HOLDER, phone), valid_days=1)
    blob = issued.file.sealed
    check = terminal.checker.check
    assert _code(check, present(blob, phone, REG, now=NOW), REG, now=NOW + 66) is (
        ErrorCode.EXPIRED)
    assert _code(check, present(blob, phone, REG, now=NOW + 60), REG, now=NOW) is (
        ErrorCode.NOT_YET_VALID)
    assert _code(check, present(blob, phone, REG, now=NOW), PAY, now=NOW) is (
        ErrorCode.WRONG_BUSINESS_TYPE)
    assert _code(check, present(blob, phone, PAY, now=NOW), REG, now=NOW) is (
        ErrorCode.WRONG_BUSINESS_TYPE)
    assert check(present(blob, phone, PAY, now=NOW), PAY, now=NOW).claims.business_type is PAY
    end = NOW - 3600 + 86_400
    assert _code(check, present(blob, phone, REG, now=end), REG, now=end) is ErrorCode.EXPIRED
    pub = keys.signing_key.public
    shanghai_only = TrustStore([IssuerVerifyKey(pub.issuer, pub.kid, pub.public_key,
                                                frozenset({"31"}))])
    scoped = PresentationVerifier(shanghai_only, VerifyPolicy())
    assert _code(scoped.check, present(blob, phone, REG, now=NOW), REG, now=NOW) is (
        ErrorCode.WRONG_REGION)
    revoked = TrustStore([IssuerVerifyKey(pub.issuer, pub.kid, pub.public_key,
                                          state=KeyState.REVOKED)])
    assert _code(PresentationVerifier(revoked).check, present(blob, phone, REG, now=NOW), REG,
                 now=NOW) is ErrorCode.KEY_REVOKED


def test_challenge_mode(platform: HolderPlatform, terminal: Terminal) -> None:
    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    answered = present(blob, phone, REG, now=NOW, challenge=b"\x01\x02\x03\x04")
    assert terminal.checker.check(answered, REG, now=NOW, challenge=b"\x01\x02\x03\x04")
    other = b"\x09\x09\x09\x09"
    assert _code(terminal.checker.check, answered, REG, now=NOW, challenge=other) is (
        ErrorCode.CHALLENGE_MISMATCH)
    plain = present(blob, phone, REG, now=NOW)
    assert _code(terminal.checker.check, plain, REG, now=NOW, challenge=other) is (
        ErrorCode.CHALLENGE_MISMATCH)


def test_cache_is_bounded_and_follows_the_trust(platform: HolderPlatform, keys: KeyDir,
                                                public_trust: TrustStore) -> None:
    checker = PresentationVerifier(public_trust, VerifyPolicy(), cache_size=2)
    phones = [device(bytes([i])) for i in range(3)]
    blobs = [platform.activate(activation(f"PERSON{i:04d}", p)).file.sealed
             for i, p in enumerate(phones)]
    for blob, phone in zip(blobs, phones, strict=True):
        checker.check(present(blob, phone, REG, now=NOW), REG, now=NOW)
    assert len(checker._cache) == 2
    # the same checker given another trust store (a new trust list) re-checks the credential
    pub = keys.signing_key.public
    checker.trust = TrustStore([IssuerVerifyKey(pub.issuer, pub.kid, pub.public_key,
                                                state=KeyState.REVOKED)])
    assert _code(checker.check, present(blobs[2], phones[2], REG, now=NOW), REG, now=NOW) is (
        ErrorCode.KEY_REVOKED)


def test_policy_hook_applies_to_subject_and_actor(platform: HolderPlatform,
                                                  public_trust: TrustStore) -> None:
    phone = device(b"phone")
    platform.activate(activation(HOLDER, phone))
    blob = platform.add_family_member(HOLDER, activation(MEMBER, phone, name="李*")).file.sealed
    checker = PresentationVerifier(public_trust, VerifyPolicy(
        credential_usable=lambda cid: cid != HOLDER))
    assert _code(checker.check, present(blob, phone, REG, now=NOW), REG, now=NOW) is (
        ErrorCode.CREDENTIAL_NOT_USABLE)


def test_a_unit_never_pays(platform: HolderPlatform, terminal: Terminal) -> None:
    """The subject-kind rule of the platform codes holds for presentations too."""
    from ecert_token.model import SubjectKind
    from ecert_token.registry import Activation

    phone = device(b"unit")
    base = activation("UNIT000001", phone, name="*公司")
    unit = Activation(base.cert_id, base.device_key, base.region, base.insurance_type,
                      base.masked_name, base.channel, SubjectKind.INSURED_UNIT)
    blob = platform.activate(unit).file.sealed
    assert terminal.checker.check(present(blob, phone, REG, now=NOW), REG, now=NOW)
    assert _code(terminal.checker.check, present(blob, phone, PAY, now=NOW), PAY, now=NOW) is (
        ErrorCode.WRONG_BUSINESS_TYPE)


def test_async_verifier_accepts_presentations(platform: HolderPlatform,
                                              terminal: Terminal) -> None:
    import asyncio

    from ecert_token.aio import AsyncVerifier

    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    text = present(blob, phone, REG, now=NOW)
    averifier = AsyncVerifier(terminal.verifier)

    async def twice() -> tuple[object, object]:
        first = await averifier.verify(text, REG, now=NOW)
        try:
            await averifier.verify(text, REG, now=NOW)
        except TokenRejected as exc:
            return first, exc.code
        return first, None

    first, second = asyncio.run(twice())
    assert isinstance(first, VerifiedPresentation) and second is ErrorCode.REPLAYED
    again = present(blob, phone, REG, now=NOW)
    batch = asyncio.run(averifier.verify_many([text, again, again, "EP1:x"], REG, now=NOW))
    assert [getattr(r, "code", "ok") for r in batch] == [
        ErrorCode.REPLAYED, "ok", ErrorCode.REPLAYED, ErrorCode.MALFORMED]


def test_challenge_mode_through_the_verifier(platform: HolderPlatform,
                                             terminal: Terminal) -> None:
    from ecert_token.holder.challenge import new_challenge, verify_with_challenge

    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    challenge = new_challenge(seeded_random(b"challenge"))
    answer = present(blob, phone, REG, now=NOW, challenge=challenge)
    assert verify_with_challenge(terminal.verifier, answer, REG, challenge).subject == HOLDER
    assert _code(verify_with_challenge, terminal.verifier, answer, REG, challenge) is (
        ErrorCode.REPLAYED)
    other = present(blob, phone, REG, now=NOW, challenge=b"\x00" * 8)
    assert _code(verify_with_challenge, terminal.verifier, other, REG, challenge) is (
        ErrorCode.CHALLENGE_MISMATCH)


# A cached credential cannot be abused: the cache saves the credential's checks (envelope,
# claims, issuer signature) and nothing a presentation must prove on its own.

def _warm(checker: PresentationVerifier, blob: bytes, phone: object) -> None:
    checker.check(present(blob, phone, REG, now=NOW), REG, now=NOW)  # type: ignore[arg-type]
    assert blob in checker._cache


def test_cached_credential_every_flipped_byte_of_a_presentation_is_refused(
        platform: HolderPlatform, public_trust: TrustStore) -> None:
    """With the credential cached, a change to any byte of a presentation is refused:
    the cache key is the exact credential bytes, and the device signature covers them."""
    from ecert_token.codec.base45 import b45decode, b45encode

    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    checker = PresentationVerifier(public_trust, VerifyPolicy())
    _warm(checker, blob, phone)
    data = b45decode(present(blob, phone, REG, now=NOW)[4:])
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            bad = bytearray(data)
            bad[i] ^= flip
            with pytest.raises(TokenRejected):
                checker.check("EP1:" + b45encode(bytes(bad)), REG, now=NOW)
    assert list(checker._cache) == [blob]  # nothing that failed entered the cache


def test_cached_credential_with_another_devices_binding_is_refused(
        platform: HolderPlatform, public_trust: TrustStore) -> None:
    """Same credential bytes (same cache key), but the presentation is made by another
    device key: the cached credential's cnf key refuses it."""
    phone, thief = device(b"phone"), device(b"thief")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    checker = PresentationVerifier(public_trust, VerifyPolicy())
    _warm(checker, blob, phone)
    stolen = present(blob, thief, REG, now=NOW)
    assert _code(checker.check, stolen, REG, now=NOW) is ErrorCode.BAD_SIGNATURE
    # the holder's own presentation moved to another step: the signature refuses it
    from dataclasses import replace

    from ecert_token.codec.base45 import b45decode, b45encode
    from ecert_token.holder.presentation import encode_payload, parse

    text = present(blob, phone, REG, now=NOW)
    data, claims = b45decode(text[4:]), parse(text).claims
    old, new = encode_payload(claims), encode_payload(replace(claims, business_type=PAY))
    assert data.count(old) == 1 and len(new) == len(old)
    forged = "EP1:" + b45encode(data.replace(old, new))
    assert _code(checker.check, forged, PAY, now=NOW) is ErrorCode.BAD_SIGNATURE
    assert checker.check(text, REG, now=NOW).subject == HOLDER


def test_cached_credential_revoked_later_is_refused(platform: HolderPlatform,
                                                    terminal: Terminal) -> None:
    """The status bit is looked up on every presentation, not cached with the credential."""
    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    _status(platform, terminal, at=NOW - 120)
    assert terminal.verifier.verify(present(blob, phone, REG, now=NOW), REG).status_checked
    assert blob in terminal.checker._cache
    platform.unbind(HOLDER, now=NOW - 100)
    _status(platform, terminal, at=NOW - 60)
    assert _code(terminal.verifier.verify, present(blob, phone, REG, now=NOW), REG) is (
        ErrorCode.CREDENTIAL_REVOKED)
    assert blob in terminal.checker._cache  # still cached, still refused


def test_cached_credential_expiry_and_policy_are_checked_per_presentation(
        platform: HolderPlatform, public_trust: TrustStore) -> None:
    phone = device(b"phone")
    issued = platform.activate(activation(HOLDER, phone), valid_days=1)
    blob = issued.file.sealed
    allowed = {HOLDER}
    checker = PresentationVerifier(public_trust, VerifyPolicy(
        credential_usable=lambda cid: cid in allowed))
    _warm(checker, blob, phone)
    allowed.clear()  # the policy's hook answers per presentation
    assert _code(checker.check, present(blob, phone, REG, now=NOW), REG, now=NOW) is (
        ErrorCode.CREDENTIAL_NOT_USABLE)
    allowed.add(HOLDER)
    end = issued.file.expires_at
    assert _code(checker.check, present(blob, phone, REG, now=end), REG, now=end) is (
        ErrorCode.EXPIRED)


def test_cached_credential_follows_a_narrower_issuer_key(platform: HolderPlatform,
                                                         keys: KeyDir) -> None:
    """A new trust store whose issuer key may no longer issue for the region: the cached
    credential is re-checked under it (its key object is not the cached one)."""
    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    pub = keys.signing_key.public
    checker = PresentationVerifier(TrustStore([pub]), VerifyPolicy())
    _warm(checker, blob, phone)
    checker.trust = TrustStore([IssuerVerifyKey(pub.issuer, pub.kid, pub.public_key,
                                                frozenset({"31"}))])
    assert _code(checker.check, present(blob, phone, REG, now=NOW), REG, now=NOW) is (
        ErrorCode.WRONG_REGION)


@pytest.mark.parametrize("size", [0, 1, 3])
def test_cache_bound_is_respected_oldest_out(platform: HolderPlatform,
                                             public_trust: TrustStore, size: int) -> None:
    checker = PresentationVerifier(public_trust, VerifyPolicy(), cache_size=size)
    phones = [device(bytes([i])) for i in range(5)]
    blobs = [platform.activate(activation(f"PERSON{i:04d}", p)).file.sealed
             for i, p in enumerate(phones)]
    for blob, phone in zip(blobs, phones, strict=True):
        checker.check(present(blob, phone, REG, now=NOW), REG, now=NOW)
        assert len(checker._cache) <= size
    assert list(checker._cache) == blobs[len(blobs) - size:]  # the newest, in order
    # a hit refreshes nothing and a re-check of an evicted credential re-enters it last
    if size:
        checker.check(present(blobs[0], phones[0], REG, now=NOW), REG, now=NOW)
        assert list(checker._cache)[-1] == blobs[0] and len(checker._cache) == size


def test_the_verifiers_dispatch_gives_the_checks_answers(platform: HolderPlatform,
                                                         terminal: Terminal) -> None:
    """``Verifier`` reads ``EP1:`` text once and hands the Base45 body to
    ``check_body``: every answer is the one ``PresentationVerifier.check`` gives for the
    same text, including what a scanner adds around it and broken bodies."""
    phone = device(b"phone")
    issued = platform.activate(activation(HOLDER, phone))
    _status(platform, terminal)
    text = present(issued.file.sealed, phone, REG, now=NOW - 5)
    body = text[4:]
    checker = terminal.verifier.presentations
    for shown, plain in ((text, text), ("\ufeff " + text + "\r\n", text),
                         (text[:-1] + "a", text[:-1] + "a"), ("EP1:", "EP1:"),
                         ("EP1:" + body[:90], "EP1:" + body[:90]),
                         ("EP1:" + body.replace("A", "B", 1), "EP1:" + body.replace("A", "B", 1))):
        try:
            expected: object = checker.check(plain, REG, now=NOW).to_dict()
        except TokenRejected as exc:
            expected = (exc.code, exc.detail)
        try:
            got: object = terminal.verifier.check(shown, REG, now=NOW).to_dict()
        except TokenRejected as exc:
            got = (exc.code, exc.detail)
        assert got == expected, shown[:12]
    assert terminal.verifier.check(text, REG, now=NOW).subject == HOLDER
