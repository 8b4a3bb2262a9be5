"""The terminal's loader: rollback (also across restarts), last good list, staleness."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    Issuer,
    KeyState,
    TokenRejected,
    TrustListError,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import IssuerSigningKey
from ecert_token.trust import (
    RootSigningKey,
    Staleness,
    TrustListLoader,
    build_trust_list,
    sign_trust_list,
)
from ecert_token.trust.state import LIST_FILE, STATE_FILE
from tests.conftest import NOW, deterministic_random, running_verifier
from tests.trust.conftest import DAY, make_list

REG = BusinessType.HOSPITAL_REGISTRATION


def _signed(root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey, seq: int, *,
            issued_at: int = NOW - 3600, lifetime: int = 30 * DAY) -> bytes:
    return sign_trust_list(make_list(beijing, shaanxi, seq, issued_at, lifetime), root)


def _code(fn: object, *args: object) -> ErrorCode:
    assert callable(fn)
    with pytest.raises(TrustListError) as info:
        fn(*args)
    return info.value.code


def test_rollback_refused_and_last_good_kept(
    tmp_path: Path, root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey,
    clock: FixedClock,
) -> None:
    loader = TrustListLoader(root.root, tmp_path, group_keys=[beijing.group_key], clock=clock)
    with pytest.raises(TrustListError) as info:
        loader.trust_store()
    assert info.value.code is ErrorCode.TRUST_LIST_INVALID  # nothing loaded yet
    assert loader.offer(_signed(root, beijing, shaanxi, 5)).sequence == 5
    assert _code(loader.offer, _signed(root, beijing, shaanxi, 4)) is ErrorCode.TRUST_LIST_ROLLBACK
    # Same number, other content (an equivocating list) is a rollback too.
    other = _signed(root, beijing, shaanxi, 5, issued_at=NOW - 7200)
    assert _code(loader.offer, other) is ErrorCode.TRUST_LIST_ROLLBACK
    # A tampered newer list fails; the last good one stays in force.
    tampered = bytearray(_signed(root, beijing, shaanxi, 6))
    tampered[-1] ^= 1
    assert _code(loader.offer, bytes(tampered)) is ErrorCode.TRUST_LIST_BAD_SIGNATURE
    current = loader.current
    assert current is not None
    assert current.sequence == 5
    assert len(loader.trust_store()) == 3
    # The same list again is a no-op; a newer one is adopted.
    assert loader.offer(_signed(root, beijing, shaanxi, 5)).sequence == 5
    assert loader.offer(_signed(root, beijing, shaanxi, 7)).sequence == 7
    assert loader.highest_sequence == 7


def test_restart_cannot_roll_back(
    tmp_path: Path, root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey,
    clock: FixedClock,
) -> None:
    first = TrustListLoader(root.root, tmp_path, clock=clock)
    first.offer(_signed(root, beijing, shaanxi, 10))
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["sequence"] == 10

    restarted = TrustListLoader(root.root, tmp_path, clock=clock)
    assert restarted.current is not None
    assert restarted.current.sequence == 10
    assert _code(restarted.offer, _signed(root, beijing, shaanxi, 9)) is (
        ErrorCode.TRUST_LIST_ROLLBACK
    )

    # Even with the saved list gone (or replaced by an old one), the number holds.
    (tmp_path / LIST_FILE).write_bytes(_signed(root, beijing, shaanxi, 3))
    again = TrustListLoader(root.root, tmp_path, clock=clock)
    assert again.current is None
    assert again.highest_sequence == 10
    assert _code(again.offer, _signed(root, beijing, shaanxi, 3)) is ErrorCode.TRUST_LIST_ROLLBACK
    (tmp_path / LIST_FILE).unlink()
    assert TrustListLoader(root.root, tmp_path, clock=clock).highest_sequence == 10


def test_tampered_saved_list_not_loaded(
    tmp_path: Path, root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey,
    clock: FixedClock,
) -> None:
    TrustListLoader(root.root, tmp_path, clock=clock).offer(_signed(root, beijing, shaanxi, 2))
    data = bytearray((tmp_path / LIST_FILE).read_bytes())
    data[40] ^= 0x10
    (tmp_path / LIST_FILE).write_bytes(bytes(data))
    restarted = TrustListLoader(root.root, tmp_path, clock=clock)
    assert restarted.current is None
    assert restarted.highest_sequence == 2


def test_corrupt_state_fails_closed(tmp_path: Path, root: RootSigningKey,
                                    clock: FixedClock) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(TrustListError) as info:
        TrustListLoader(root.root, tmp_path, clock=clock)
    assert info.value.code is ErrorCode.TRUST_LIST_INVALID


def test_staleness_warns_then_refuses(
    root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey, clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loader = TrustListLoader(root.root, clock=clock,
                             staleness=Staleness(warn_after=DAY, refuse_after=3 * DAY))
    data = _signed(root, beijing, shaanxi, 1, issued_at=NOW - 60)
    loader.offer(data)
    with caplog.at_level(logging.WARNING, logger="ecert_token.trust"):
        loader.trust_store(now=NOW + DAY // 2)
        assert not caplog.records
        loader.trust_store(now=NOW + 2 * DAY)
    assert len(caplog.records) == 1
    assert "old" in caplog.records[0].getMessage()
    assert beijing.group_key.secret.hex() not in caplog.text
    with pytest.raises(TrustListError) as info:
        loader.trust_store(now=NOW + 3 * DAY)
    assert info.value.code is ErrorCode.TRUST_LIST_STALE
    # A list that is already too old is refused when offered.
    fresh = TrustListLoader(root.root, clock=clock,
                            staleness=Staleness(warn_after=DAY, refuse_after=3 * DAY))
    old = _signed(root, beijing, shaanxi, 2, issued_at=NOW - 4 * DAY)
    assert _code(fresh.offer, old) is ErrorCode.TRUST_LIST_STALE


def test_expired_current_list_refused(
    root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey, clock: FixedClock,
) -> None:
    loader = TrustListLoader(root.root, clock=clock)
    loader.offer(_signed(root, beijing, shaanxi, 1, issued_at=NOW - 60, lifetime=3600))
    clock.advance(3600)
    assert _code(loader.trust_store) is ErrorCode.TRUST_LIST_EXPIRED
    assert _code(loader.offer, _signed(root, beijing, shaanxi, 2, issued_at=NOW - 60,
                                       lifetime=3600)) is ErrorCode.TRUST_LIST_EXPIRED


def test_state_is_per_root(
    tmp_path: Path, root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey,
    clock: FixedClock,
) -> None:
    """A new pinned root (a software update) starts its own sequence."""
    TrustListLoader(root.root, tmp_path, clock=clock).offer(_signed(root, beijing, shaanxi, 99))
    new_root = RootSigningKey.generate(deterministic_random(b"new root"))
    loader = TrustListLoader(new_root.root, tmp_path, clock=clock)
    assert loader.highest_sequence == -1
    assert loader.offer(_signed(new_root, beijing, shaanxi, 1)).sequence == 1
    assert json.loads((tmp_path / STATE_FILE).read_text())["root_kid"] == new_root.kid.hex()


def test_live_store_follows_new_lists_and_goes_stale(
    root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey, clock: FixedClock,
    credential: Credential, *, caplog: pytest.LogCaptureFixture,
) -> None:
    """One long-running Verifier: revocation applies at once, a stale list stops it."""
    loader = TrustListLoader(root.root, group_keys=[beijing.group_key], clock=clock,
                             staleness=Staleness(warn_after=DAY, refuse_after=3 * DAY))
    verifier = running_verifier(loader.live(), clock)
    issuer = Issuer(beijing.signing_key, beijing.group_key, clock=clock,
                    random_bytes=deterministic_random(b"live"))
    with pytest.raises(TrustListError) as info:
        verifier.verify(issuer.mint(credential, REG), REG)
    assert info.value.code is ErrorCode.TRUST_LIST_INVALID  # nothing loaded yet

    loader.offer(_signed(root, beijing, shaanxi, 1, issued_at=NOW - 60))
    assert verifier.verify(issuer.mint(credential, REG), REG).issuer == "BJ"

    revoked = dataclasses.replace(beijing.signing_key.public, state=KeyState.REVOKED)
    loader.offer(sign_trust_list(build_trust_list(2, NOW - 30, NOW + 30 * DAY, [revoked],
                                                  [beijing.group_key]), root))
    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(issuer.mint(credential, REG), REG)
    assert rejected.value.code is ErrorCode.KEY_REVOKED

    loader.offer(_signed(root, beijing, shaanxi, 3, issued_at=NOW - 10))
    clock.advance(2 * DAY)
    with caplog.at_level(logging.WARNING, logger="ecert_token.trust"):
        for _ in range(3):
            verifier.verify(issuer.mint(credential, REG), REG)
    assert len(caplog.records) == 1  # warned once per list, not per token
    clock.advance(DAY)
    with pytest.raises(TrustListError) as info:
        verifier.verify(issuer.mint(credential, REG), REG)
    assert info.value.code is ErrorCode.TRUST_LIST_STALE


def test_unwritable_state_refuses_the_list(
    tmp_path: Path, root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey,
    clock: FixedClock,
) -> None:
    """A list whose sequence cannot be persisted is not adopted."""
    loader = TrustListLoader(root.root, tmp_path, clock=clock)
    (tmp_path / LIST_FILE).mkdir()  # the atomic rename onto it fails
    assert _code(loader.offer, _signed(root, beijing, shaanxi, 1)) is ErrorCode.TRUST_LIST_INVALID
    assert loader.current is None
    assert loader.highest_sequence == -1
    assert sorted(p.name for p in tmp_path.iterdir()) == [LIST_FILE]  # no temporary left
    # A state location that cannot be read at start fails closed.
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TrustListError):
        TrustListLoader(root.root, blocker, clock=clock)
