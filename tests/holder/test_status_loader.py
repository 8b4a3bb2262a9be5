"""A terminal's status lists: rollback guard (persisted), staleness (warn, then refuse)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ecert_token import FixedClock, TokenRejected
from ecert_token.errors import EcertError, ErrorCode, InvalidArgument
from ecert_token.holder import DEFAULT_STALENESS, StatusListLoader
from ecert_token.holder.claims import StatusRef
from ecert_token.holder.status_loader import HOUR
from ecert_token.holder.statuslist import StatusList, pack, sign_status_list
from ecert_token.keys.keydir import KeyDir
from ecert_token.trust.loader import Staleness

from ..conftest import NOW


def _signed(keys: KeyDir, issued_at: int, revoked: tuple[int, ...] = (),
            valid_for: int = 72 * HOUR, uri: str = "ec:NHSA") -> bytes:
    sl = StatusList(uri, issued_at, issued_at + valid_for, 600, 1,
                    pack(dict.fromkeys(revoked, 1), 64))
    return sign_status_list(sl, keys.signing_key)


def _code(fn: object, *args: object) -> ErrorCode:
    with pytest.raises(EcertError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.code


def test_rollback_is_refused_and_survives_a_restart(keys: KeyDir, tmp_path: Path) -> None:
    state = tmp_path / "state"
    loader = StatusListLoader(keys.trust_store(), state, clock=FixedClock(NOW))
    old, new = _signed(keys, NOW - 100), _signed(keys, NOW - 50, (3,))
    loader.offer(new)
    assert loader.offer(new).issued_at == NOW - 50  # the same list again: no-op
    assert _code(loader.offer, old) is ErrorCode.STATUS_LIST_ROLLBACK
    restarted = StatusListLoader(keys.trust_store(), state, clock=FixedClock(NOW))
    assert _code(restarted.offer, old) is ErrorCode.STATUS_LIST_ROLLBACK
    assert restarted.status_of(StatusRef("ec:NHSA", 3), "NHSA", NOW - 1000, NOW) == 1
    assert restarted.status_of(StatusRef("ec:NHSA", 2), "NHSA", NOW - 1000, NOW) == 0
    assert restarted.status_of(StatusRef("ec:OTHER", 2), "NHSA", NOW - 1000, NOW) is None


def test_corrupt_state_fails_closed(keys: KeyDir, tmp_path: Path) -> None:
    (tmp_path / "status-state.json").write_text("{not json")
    with pytest.raises(EcertError) as info:
        StatusListLoader(keys.trust_store(), tmp_path)
    assert info.value.code is ErrorCode.STATUS_LIST_INVALID


def test_staleness_warns_then_refuses(keys: KeyDir, caplog: pytest.LogCaptureFixture) -> None:
    limits = Staleness(warn_after=HOUR, refuse_after=2 * HOUR)
    loader = StatusListLoader(keys.trust_store(), staleness=limits)
    loader.offer(_signed(keys, NOW), now=NOW)
    ref = StatusRef("ec:NHSA", 1)
    with caplog.at_level(logging.WARNING, logger="ecert_token.holder"):
        assert loader.status_of(ref, "NHSA", NOW - 10, NOW + HOUR + 1) == 0
        assert loader.status_of(ref, "NHSA", NOW - 10, NOW + HOUR + 2) == 0
    assert len([r for r in caplog.records if "old" in r.getMessage()]) == 1  # once per list
    with pytest.raises(TokenRejected) as info:
        loader.status_of(ref, "NHSA", NOW - 10, NOW + 2 * HOUR + 1)
    assert info.value.code is ErrorCode.STATUS_LIST_STALE
    assert _code(loader.offer, _signed(keys, NOW - 3 * HOUR)) is ErrorCode.STATUS_LIST_ROLLBACK
    fresh = StatusListLoader(keys.trust_store(), staleness=limits, clock=FixedClock(NOW))
    assert _code(fresh.offer, _signed(keys, NOW - 3 * HOUR)) is ErrorCode.STATUS_LIST_STALE


def test_default_refusal_is_48_hours_and_expiry_refuses_too(keys: KeyDir) -> None:
    assert DEFAULT_STALENESS.refuse_after == 48 * HOUR
    loader = StatusListLoader(keys.trust_store())
    loader.offer(_signed(keys, NOW, valid_for=HOUR), now=NOW)
    ref = StatusRef("ec:NHSA", 1)
    assert loader.status_of(ref, "NHSA", NOW - 10, NOW + HOUR - 1) == 0
    with pytest.raises(TokenRejected) as info:
        loader.status_of(ref, "NHSA", NOW - 10, NOW + HOUR)
    assert info.value.code is ErrorCode.STATUS_LIST_STALE


def test_coverage_and_issuer(keys: KeyDir) -> None:
    loader = StatusListLoader(keys.trust_store())
    loader.offer(_signed(keys, NOW), now=NOW)
    beyond = StatusRef("ec:NHSA", 10_000)
    # issued after the list: not in it yet, counted valid
    assert loader.status_of(beyond, "NHSA", NOW, NOW + 5) == 0
    with pytest.raises(TokenRejected) as info:  # issued before it and missing: refused
        loader.status_of(beyond, "NHSA", NOW - 1, NOW + 5)
    assert info.value.code is ErrorCode.STATUS_LIST_INVALID
    with pytest.raises(TokenRejected) as info:
        loader.status_of(StatusRef("ec:NHSA", 1), "OTHER", NOW - 1, NOW + 5)
    assert info.value.code is ErrorCode.STATUS_LIST_INVALID


def test_bad_limits(keys: KeyDir) -> None:
    with pytest.raises(InvalidArgument):
        Staleness(warn_after=10, refuse_after=5)
    with pytest.raises(InvalidArgument):
        StatusListLoader(keys.trust_store(), staleness=48)  # type: ignore[arg-type]


def test_a_compact_reference_finds_its_issuers_list(keys: KeyDir, tmp_path: Path) -> None:
    """Version-2 credentials name no list: the one list of the credential's issuer
    answers, after a restart too; none loaded: unchecked; two lists of one issuer:
    ambiguous, refused."""
    state = tmp_path / "state"
    loader = StatusListLoader(keys.trust_store(), state, clock=FixedClock(NOW))
    compact = StatusRef(None, 3)
    assert loader.status_of(compact, "NHSA", NOW - 1000, NOW) is None
    loader.offer(_signed(keys, NOW - 50, (3,), uri="ec:NHSA/44"))
    assert loader.status_of(compact, "NHSA", NOW - 1000, NOW) == 1
    assert loader.status_of(StatusRef(None, 2), "NHSA", NOW - 1000, NOW) == 0
    assert loader.status_of(compact, "OTHER", NOW - 1000, NOW) is None
    restarted = StatusListLoader(keys.trust_store(), state, clock=FixedClock(NOW))
    assert restarted.status_of(compact, "NHSA", NOW - 1000, NOW) == 1
    restarted.offer(_signed(keys, NOW - 40, uri="ec:NHSA/45"))
    with pytest.raises(TokenRejected) as info:
        restarted.status_of(compact, "NHSA", NOW - 1000, NOW)
    assert info.value.code is ErrorCode.STATUS_LIST_INVALID
    # a version-1 reference still names its list
    assert restarted.status_of(StatusRef("ec:NHSA/44", 3), "NHSA", NOW - 1000, NOW) == 1
