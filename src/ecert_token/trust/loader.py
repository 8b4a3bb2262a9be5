"""A terminal's trust: the last good signed list, rollback protection, staleness.

:class:`TrustListLoader` is what a terminal keeps running: it verifies each
offered list against the pinned root, refuses one whose sequence number is
not above the highest ever accepted (persisted, so restarts do not reset
it), keeps the last good list when a new one fails, and hands out a
:class:`TrustStore` (listed issuer keys plus the terminal's provisioned
group keys) only while that list is neither expired nor too old.

Give a long-running :class:`Verifier` the loader's :meth:`~TrustListLoader.live`
store: it always answers from the newest accepted list, so a new list (a
revocation, say) takes effect at once, and it refuses every lookup with
``TRUST_LIST_STALE`` or ``TRUST_LIST_EXPIRED`` once the list is too old, so a
terminal cut off from updates stops rather than trusting old keys forever.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..clock import Clock, system_clock
from ..errors import ErrorCode, InvalidArgument, KeyMaterialError, TrustListError
from ..keys.cose_key import KID, group_key_from_cose_key, load_map
from ..keys.files import read_private
from ..keys.material import GroupKey, IssuerVerifyKey
from ..keys.routes import Routes
from ..keys.trust_store import TrustStore
from .envelope import verify_trust_list
from .listing import TrustList
from .root import TrustRoot
from .state import TrustState, digest, load_saved_list, load_state, save_state

log = logging.getLogger("ecert_token.trust")

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Staleness:
    """How old (since its ``issued_at``) a list may get: warn, then refuse."""

    warn_after: int = DAY
    refuse_after: int = 7 * DAY

    def __post_init__(self) -> None:
        for v in (self.warn_after, self.refuse_after):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise InvalidArgument("staleness limits are positive seconds")
        if self.warn_after > self.refuse_after:
            raise InvalidArgument("warn_after must not exceed refuse_after")


class TrustListLoader:
    """Offline trust for one terminal, optionally persisted in ``state_dir``."""

    def __init__(
        self,
        root: TrustRoot,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        group_keys: Iterable[GroupKey] = (),
        staleness: Staleness | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if not isinstance(root, TrustRoot):
            raise InvalidArgument("root must be a TrustRoot")
        self.root = root
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.staleness = staleness or Staleness()
        self._clock = clock
        self._lock = threading.Lock()
        self._group_keys = tuple(group_keys)
        self._current: TrustList | None = None
        self._store: TrustStore | None = None
        self._digest: str | None = None
        self._highest = -1
        self._warned: int | None = None
        if self.state_dir is not None:
            self._restore(self.state_dir)

    @property
    def group_keys(self) -> tuple[GroupKey, ...]:
        """The terminal's provisioned group keys."""
        return self._group_keys

    def provision(self, group_keys: Iterable[GroupKey]) -> None:
        """Replace the provisioned group keys (new keys arrived by their own channel)."""
        keys = tuple(group_keys)
        with self._lock:
            store = None if self._current is None else self._current.trust_store(keys)
            self._group_keys, self._store = keys, store

    def provision_files(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Provision group keys from COSE_Key files, each named by the current list.

        ``ecert keys export --group-keys`` writes such files (mode 0600; wider
        ones are refused).  Offer the list first: a key it does not describe is
        refused (``key_file``).
        """
        keys: list[GroupKey] = []
        for path in paths:
            data = read_private(path)
            kid = load_map(data).get(KID)
            info = (self._current.group_info(kid)
                    if self._current is not None and isinstance(kid, bytes) else None)
            if info is None:
                raise KeyMaterialError(ErrorCode.KEY_FILE,
                                       f"{Path(path).name} is not a group key of the trust list")
            keys.append(group_key_from_cose_key(data, info.group))
        self.provision(keys)

    @property
    def current(self) -> TrustList | None:
        """The last good list, if any."""
        return self._current

    @property
    def highest_sequence(self) -> int:
        """The highest sequence number ever accepted here (-1 for none)."""
        return self._highest

    def _restore(self, state_dir: Path) -> None:
        state = load_state(state_dir)
        if state is not None and state.root_kid != self.root.kid.hex():
            log.warning("trust state belongs to another root; starting a new sequence")
            state = None
        if state is not None:
            self._highest = state.sequence
        data = load_saved_list(state_dir)
        if data is None:
            return
        try:
            tl = verify_trust_list(data, self.root, self._clock())
        except TrustListError as exc:
            log.warning("saved trust list not usable (%s)", exc.code.value)
            return
        if tl.sequence > self._highest or (
            state is not None and tl.sequence == state.sequence and digest(data) == state.digest
        ):
            self._accept(tl, data)
        else:
            log.warning("saved trust list is older than the recorded sequence; ignored")

    def _accept(self, tl: TrustList, data: bytes) -> None:
        d = digest(data)
        store = tl.trust_store(self._group_keys)  # may refuse the provisioned keys
        if self.state_dir is not None and (tl.sequence > self._highest or d != self._digest):
            save_state(self.state_dir, TrustState(tl.sequence, d, self.root.kid.hex()), data)
        self._current, self._store, self._digest = tl, store, d
        self._highest = max(self._highest, tl.sequence)

    def offer(self, data: bytes, now: int | None = None) -> TrustList:
        """Verify and adopt a new list; on any failure the last good list stays.

        Offering the list already loaded again (the same bytes) is a no-op.
        """
        now = self._clock() if now is None else now
        tl = verify_trust_list(data, self.root, now)
        with self._lock:
            if self._current is not None and digest(data) == self._digest:
                return self._current
            if tl.sequence <= self._highest:
                raise TrustListError(ErrorCode.TRUST_LIST_ROLLBACK, "sequence number not greater")
            self._check_age(tl, now)
            self._accept(tl, data)
        log.info("trust list %d loaded (%d issuer keys)", tl.sequence, len(tl.issuer_keys))
        return tl

    def offer_file(self, path: str | os.PathLike[str], now: int | None = None) -> TrustList:
        try:
            data = Path(path).read_bytes()
        except OSError:
            raise TrustListError(
                ErrorCode.TRUST_LIST_INVALID, f"cannot read {Path(path).name}"
            ) from None
        return self.offer(data, now)

    def _check_age(self, tl: TrustList, now: int) -> None:
        if now >= tl.expires_at:
            raise TrustListError(ErrorCode.TRUST_LIST_EXPIRED)
        age = now - tl.issued_at
        if age > self.staleness.refuse_after:
            raise TrustListError(ErrorCode.TRUST_LIST_STALE, "older than the refusal limit")
        if age > self.staleness.warn_after and self._warned != tl.sequence:
            self._warned = tl.sequence  # once per list, not once per token
            log.warning(
                "trust list %d is %d s old (warning after %d s, refused after %d s)",
                tl.sequence, age, self.staleness.warn_after, self.staleness.refuse_after,
            )

    def trust_store(self, now: int | None = None) -> TrustStore:
        """The verifier's trust material from the current list, if it may still be used.

        This is a snapshot; :meth:`live` gives a store that follows new lists.
        """
        now = self._clock() if now is None else now
        tl, store = self._current, self._store
        if tl is None or store is None:
            raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "no trust list loaded")
        self._check_age(tl, now)
        return store

    def live(self) -> TrustStore:
        """A store for :class:`Verifier` that always uses the newest list, checking its age."""
        return LiveTrustStore(self)


class LiveTrustStore(TrustStore):
    """A :class:`TrustStore` view of a loader: each lookup uses the current list.

    Lookups raise :class:`TrustListError` (``TRUST_LIST_STALE``,
    ``TRUST_LIST_EXPIRED``, or ``TRUST_LIST_INVALID`` when none is loaded)
    instead of answering from a list that may no longer be trusted.
    """

    __slots__ = ("_loader",)

    def __init__(self, loader: TrustListLoader) -> None:  # no keys of its own
        self._loader = loader

    def issuer_key(self, kid: bytes) -> IssuerVerifyKey | None:
        return self._loader.trust_store().issuer_key(kid)

    def group_key(self, kid: bytes) -> GroupKey | None:
        return self._loader.trust_store().group_key(kid)

    def routes(self) -> Routes | None:
        """The current list's routes; None while the list may not be used, so the
        verifier's general path raises the loader's error where it always did."""
        try:
            return self._loader.trust_store().routes()
        except TrustListError:
            return None

    @property
    def issuer_keys(self) -> tuple[IssuerVerifyKey, ...]:
        return self._loader.trust_store().issuer_keys

    @property
    def group_keys(self) -> tuple[GroupKey, ...]:
        return self._loader.trust_store().group_keys

    def __len__(self) -> int:
        return len(self._loader.trust_store())
