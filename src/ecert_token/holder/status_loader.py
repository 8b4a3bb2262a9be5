"""A terminal's status lists, loaded offline like its trust list.

:class:`StatusListLoader` verifies each offered list against the terminal's
trust material (the issuer key by kid), refuses a list that is not newer than
the last one accepted for the same URI (rollback guard; persisted in
``state_dir`` so a restart does not reset it), and answers status lookups
only while the list is fresh: past ``warn_after`` seconds since the list was
issued it logs a warning (once per list); past ``refuse_after`` (default 48
hours) or past the list's own expiry, every presentation that needs it is
refused with ``status_list_stale``.  Platform codes never consult it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from ..clock import Clock, system_clock
from ..errors import ErrorCode, InvalidArgument, TokenRejected
from ..keys.files import write_file
from ..keys.trust_store import TrustStore
from ..trust.loader import Staleness
from .claims import StatusRef
from .statuslist import StatusList, StatusListError, verify_status_list

log = logging.getLogger("ecert_token.holder")

HOUR = 3600
STATE_FILE = "status-state.json"
STATE_FORMAT = "ecert-status-state/1"


DEFAULT_STALENESS = Staleness(warn_after=24 * HOUR, refuse_after=48 * HOUR)
"""Status lists age faster than trust lists: warn after a day, refuse after two."""


def _list_file(uri: str) -> str:
    return "status-" + hashlib.sha256(uri.encode()).hexdigest()[:16] + ".cwt"


class StatusListLoader:
    """The status lists one terminal holds, by URI."""

    def __init__(
        self,
        trust: TrustStore,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        staleness: Staleness | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if not isinstance(trust, TrustStore):
            raise InvalidArgument("trust must be a TrustStore")
        self.trust = trust
        self.state_dir = None if state_dir is None else Path(state_dir)
        if staleness is not None and not isinstance(staleness, Staleness):
            raise InvalidArgument("staleness must be a Staleness")
        self.staleness = staleness or DEFAULT_STALENESS
        self._clock = clock
        self._lock = threading.Lock()
        self._lists: dict[str, StatusList] = {}
        self._digests: dict[str, str] = {}
        self._highest: dict[str, int] = {}
        self._warned: set[tuple[str, int]] = set()
        self._by_issuer: dict[str, frozenset[str]] = {}
        """The URIs of the lists each issuer signed (a compact reference names none)."""
        self._issuer_list: dict[str, StatusList] = {}
        """Each issuer's one list, which a compact reference names: one lookup per scan."""
        self._ambiguous: frozenset[str] = frozenset()
        """Issuers with lists under several URIs: a compact reference is ambiguous."""
        if self.state_dir is not None:
            self._restore(self.state_dir)

    def _restore(self, state_dir: Path) -> None:
        try:
            raw = (state_dir / STATE_FILE).read_bytes()
        except FileNotFoundError:
            return
        except OSError:
            raise StatusListError(ErrorCode.STATUS_LIST_INVALID, "cannot read the state") from None
        try:
            value = json.loads(raw)
            if value["format"] != STATE_FORMAT or not isinstance(value["lists"], dict):
                raise TypeError
            highest = {str(u): int(v["issued_at"]) for u, v in value["lists"].items()}
        except (ValueError, KeyError, TypeError, RecursionError):
            raise StatusListError(
                ErrorCode.STATUS_LIST_INVALID, "the state file is corrupt") from None
        self._highest = highest
        for uri, issued_at in highest.items():
            try:
                data = (state_dir / _list_file(uri)).read_bytes()
                sl, _ = verify_status_list(data, self.trust)
            except (OSError, StatusListError) as exc:
                log.warning("saved status list not usable (%s)", type(exc).__name__)
                continue
            if sl.uri == uri and sl.issued_at == issued_at:
                self._adopt(sl)
                self._digests[uri] = hashlib.sha256(data).hexdigest()

    def _adopt(self, sl: StatusList) -> None:
        """Make ``sl`` the current list of its URI (under the lock or in the constructor)."""
        by_issuer = self._by_issuer
        previous = self._lists.get(sl.uri)
        if previous is not None and previous.issuer != sl.issuer:
            by_issuer[previous.issuer] = by_issuer[previous.issuer] - {sl.uri}
        self._lists[sl.uri] = sl
        by_issuer[sl.issuer] = by_issuer.get(sl.issuer, frozenset()) | {sl.uri}
        # Ambiguity first: a lookup in between sees "ambiguous", never "no list".
        self._ambiguous = frozenset(i for i, uris in by_issuer.items() if len(uris) > 1)
        for issuer in {sl.issuer, sl.issuer if previous is None else previous.issuer}:
            uris = by_issuer[issuer]
            if len(uris) == 1:
                self._issuer_list[issuer] = self._lists[next(iter(uris))]
            else:
                self._issuer_list.pop(issuer, None)

    def _save(self, sl: StatusList, data: bytes) -> None:
        if self.state_dir is None:
            return
        record = {"format": STATE_FORMAT, "lists": {
            u: {"issued_at": t} for u, t in sorted(self._highest.items())}}
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            write_file(self.state_dir / _list_file(sl.uri), data, 0o644)
            write_file(self.state_dir / STATE_FILE,
                       (json.dumps(record, sort_keys=True) + "\n").encode(), 0o644)
        except OSError:
            raise StatusListError(
                ErrorCode.STATUS_LIST_INVALID, "cannot persist the state") from None

    def offer(self, data: bytes, now: int | None = None) -> StatusList:
        """Verify and adopt a list; on any failure the previous list for its URI stays."""
        now = self._clock() if now is None else now
        sl, _ = verify_status_list(data, self.trust)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            if self._digests.get(sl.uri) == digest:
                return self._lists[sl.uri]
            if sl.issued_at <= self._highest.get(sl.uri, -1):
                raise StatusListError(ErrorCode.STATUS_LIST_ROLLBACK, "not newer than the last")
            self._check_age(sl, now, StatusListError)
            previous = self._highest.get(sl.uri)
            self._highest[sl.uri] = sl.issued_at
            try:
                self._save(sl, data)
            except StatusListError:
                if previous is None:
                    del self._highest[sl.uri]
                else:
                    self._highest[sl.uri] = previous
                raise
            self._adopt(sl)
            self._digests[sl.uri] = digest
        log.info("status list loaded (%d credentials)", sl.size)
        return sl

    def offer_file(self, path: str | os.PathLike[str], now: int | None = None) -> StatusList:
        try:
            data = Path(path).read_bytes()
        except OSError:
            raise StatusListError(ErrorCode.STATUS_LIST_INVALID, "cannot read the file") from None
        return self.offer(data, now)

    def _check_age(self, sl: StatusList, now: int, error: type[TokenRejected] | type[
            StatusListError]) -> None:
        age = now - sl.issued_at
        if now >= sl.expires_at or age > self.staleness.refuse_after:
            raise error(ErrorCode.STATUS_LIST_STALE, "older than the refusal limit")
        if age > self.staleness.warn_after and (sl.uri, sl.issued_at) not in self._warned:
            self._warned.add((sl.uri, sl.issued_at))
            log.warning("status list is %d s old (warning after %d s, refused after %d s)",
                        age, self.staleness.warn_after, self.staleness.refuse_after)

    def get(self, uri: str) -> StatusList | None:
        """The current list for ``uri``, if one is loaded (no age check)."""
        return self._lists.get(uri)

    def status_of(self, ref: StatusRef, issuer: str, credential_issued_at: int,
                  now: int) -> int | None:
        """The credential's status bits, or None when no list for its URI is loaded.

        Raises ``status_list_stale`` for a list past its refusal age, and
        ``status_list_invalid`` when the list was signed by another issuer
        than the credential, or does not cover a credential issued before it.
        A credential issued after the list (a new activation) is not in it
        yet and counts as valid.  A compact reference (``ref.uri`` None, version-2
        credentials) names the list of the credential's ``issuer``; an issuer with
        lists under several URIs makes it ambiguous: ``status_list_invalid``.
        """
        sl = self._issuer_list.get(issuer) if ref.uri is None else self._lists.get(ref.uri)
        if sl is None:
            if ref.uri is None and issuer in self._ambiguous:
                raise TokenRejected(ErrorCode.STATUS_LIST_INVALID,
                                    "the issuer has several lists: a compact reference is "
                                    "ambiguous")
            return None
        if now >= sl.expires_at or now - sl.issued_at > self.staleness.warn_after:
            self._check_age(sl, now, TokenRejected)  # (a fresh list needs neither check)
        if sl.issuer != issuer:
            raise TokenRejected(ErrorCode.STATUS_LIST_INVALID, "list of another issuer")
        value = sl.status(ref.idx)  # O(1): one shift and mask
        if value is None:
            if credential_issued_at >= sl.issued_at:
                return 0
            raise TokenRejected(ErrorCode.STATUS_LIST_INVALID, "credential not in the list")
        return value
