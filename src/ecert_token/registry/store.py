"""The activation registry: which device holds which credential, and who may show whose code.

Every change runs in one ``BEGIN IMMEDIATE`` transaction together with the
signing step the caller passes in (``issue``), so a credential exists in the
registry exactly when it was issued: if signing fails, nothing is written.
SQLite errors become :class:`EcertError` ``registry_unavailable``; the five-member
limit, enforced by a trigger, becomes ``family_full``.

**Status indices are random.**  The IETF Token Status List draft (§13.2,
"Linkability" / "Decoy entries") recommends that an issuer not hand out
indices in order: sequential indices tell anyone who sees two credentials
which was activated first and roughly how many came between, and let a
verifier correlate neighbours in the list.  Each new credential (device or
delegation) gets an index drawn uniformly from ``[0, list size)`` among the
free ones, from the registry's injectable ``random_bytes`` (os.urandom
unless given).  The list size is a power of two, at least
``min_list_size`` (default 2**16), kept in ``holder_settings`` and doubled
whenever more than half of it would be in use, so a draw is free with
probability at least 1/2 (at most :data:`MAX_DRAWS` draws, about 2**-64 to
fail).  The status list always covers the whole size (unused indices are
0, i.e. valid; they are the draft's decoys).  Indices of credentials issued
before schema version 2 were sequential and are kept.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from typing import Any, Literal, TypeVar

from ..errors import EcertError, ErrorCode, InvalidArgument
from ..model import Channel, InsuranceType, Region, SubjectKind
from ..model.credential import validate_credential_id, validate_masked_name
from .schema import COMPONENT, FAMILY_FULL_MESSAGE, MIGRATIONS, migrate

T = TypeVar("T")
DEVICE = "device"
DELEGATION = "delegation"
LIST_SIZE_SETTING = "status_list_size"
DEFAULT_MIN_LIST_SIZE = 2**16
MAX_LIST_SIZE = 2**32
MAX_DRAWS = 64
RandomBytes = Callable[[int], bytes]
_COLUMNS = ("status_idx, kind, cert_id, holder_id, parent_idx, device_key, region, insutype, "
            "channel, masked_name, subject_kind, auth_method, issued_at, expires_at, "
            "revoked_at, revoke_reason")


@dataclass(frozen=True, slots=True)
class Activation:
    """What the channel asks for: bind ``device_key`` to the person ``cert_id``.

    ``device_key`` is the device public key's ``encoded`` form
    (holder/device.py): 32 bytes for Ed25519, 33 (a compressed point) for SM2.

    ``auth_method`` records how the channel authenticated the person (face
    check and password happen in the channel, not here).
    """

    cert_id: str
    device_key: bytes
    region: Region
    insurance_type: InsuranceType
    masked_name: str
    channel: Channel
    subject_kind: SubjectKind = SubjectKind.INSURED_PERSON
    auth_method: str = "face+password"

    def __post_init__(self) -> None:
        validate_credential_id(self.cert_id)
        validate_masked_name(self.masked_name)
        if not isinstance(self.device_key, bytes) or len(self.device_key) not in (32, 33):
            raise InvalidArgument("device key must be 32 bytes (Ed25519) or 33 (SM2)")
        if not isinstance(self.auth_method, str) or not 1 <= len(self.auth_method) <= 32:
            raise InvalidArgument("auth_method must be 1 to 32 characters")


@dataclass(frozen=True, slots=True)
class Record:
    """One row: a device credential or a delegation, with its status index."""

    status_idx: int
    kind: str
    cert_id: str
    holder_id: str | None
    parent_idx: int | None
    device_key: bytes
    region: Region
    insurance_type: InsuranceType
    channel: Channel
    masked_name: str
    subject_kind: SubjectKind
    auth_method: str
    issued_at: int
    expires_at: int
    revoked_at: int | None
    revoke_reason: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _record(row: tuple[Any, ...]) -> Record:
    (idx, kind, cert_id, holder, parent, key, region, insutype, channel, name, kind_code,
     method, iat, exp, revoked, reason) = row
    return Record(
        int(idx), str(kind), str(cert_id), None if holder is None else str(holder),
        None if parent is None else int(parent), bytes(key), Region(str(region)),
        InsuranceType.from_code(str(insutype)), Channel.from_code(str(channel)), str(name),
        SubjectKind.from_code(str(kind_code)), str(method), int(iat), int(exp),
        None if revoked is None else int(revoked), None if reason is None else str(reason),
    )


def _registry_error(detail: str) -> EcertError:
    return EcertError(ErrorCode.REGISTRY_UNAVAILABLE, detail)


class ActivationRegistry:
    """The registry in one SQLite file (created and migrated on open).

    ``random_bytes`` draws the status indices (see the module text);
    ``min_list_size`` (a power of two) is the smallest status list.
    """

    def __init__(self, path: str | PathLike[str], *, timeout: float = 10.0,
                 random_bytes: RandomBytes = os.urandom,
                 min_list_size: int = DEFAULT_MIN_LIST_SIZE) -> None:
        if isinstance(min_list_size, bool) or not isinstance(min_list_size, int) or not (
            1 <= min_list_size <= MAX_LIST_SIZE and min_list_size & (min_list_size - 1) == 0
        ):
            raise InvalidArgument("min_list_size must be a power of two up to 2**32")
        self._random = random_bytes
        self._min_list_size = min_list_size
        try:
            self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            migrate(self._conn, COMPONENT, MIGRATIONS)
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error:
            raise _registry_error("cannot open the registry database") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ActivationRegistry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------

    def setting(self, name: str) -> str | None:
        try:
            row = self._conn.execute("SELECT value FROM holder_settings WHERE name = ?",
                                     (name,)).fetchone()
        except sqlite3.Error:
            raise _registry_error("cannot read the registry") from None
        return None if row is None else str(row[0])

    def set_setting_once(self, name: str, value: str) -> str:
        """Store ``value`` unless the setting exists; return the stored value."""
        try:
            self._conn.execute("INSERT OR IGNORE INTO holder_settings (name, value) VALUES (?, ?)",
                               (name, value))
        except sqlite3.Error:
            raise _registry_error("cannot write the registry") from None
        stored = self.setting(name)
        assert stored is not None
        return stored

    def _one(self, sql: str, args: tuple[object, ...]) -> Record | None:
        try:
            # Both parts are fixed texts of this module; values are bound parameters.
            query = f"SELECT {_COLUMNS} FROM holder_credentials {sql}"  # noqa: S608
            row = self._conn.execute(query, args).fetchone()
        except sqlite3.Error:
            raise _registry_error("cannot read the registry") from None
        return None if row is None else _record(row)

    def active_device(self, cert_id: str) -> Record | None:
        """The person's active device credential, if any."""
        return self._one("WHERE cert_id = ? AND kind = 'device' AND revoked_at IS NULL",
                         (cert_id,))

    def latest(self, cert_id: str) -> Record | None:
        """The person's most recent credential row of any kind (for their attributes)."""
        return self._one("WHERE cert_id = ? ORDER BY seq DESC LIMIT 1", (cert_id,))

    def get(self, status_idx: int) -> Record | None:
        return self._one("WHERE status_idx = ?", (status_idx,))

    def family(self, holder_id: str) -> list[str]:
        try:
            rows = self._conn.execute(
                "SELECT member_id FROM holder_family WHERE holder_id = ? ORDER BY added_at, "
                "member_id", (holder_id,)).fetchall()
        except sqlite3.Error:
            raise _registry_error("cannot read the registry") from None
        return [str(r[0]) for r in rows]

    def revoked(self) -> tuple[int, list[int]]:
        """``(size, revoked indices)``: the list covers indices 0 to size - 1 (the list
        size, which every index lies below)."""
        try:
            with self._read():
                size = self._list_size()
                rows = self._conn.execute(
                    "SELECT status_idx FROM holder_credentials WHERE revoked_at IS NOT NULL"
                ).fetchall()
        except sqlite3.Error:
            raise _registry_error("cannot read the registry") from None
        return size, [int(r[0]) for r in rows]

    def _list_size(self) -> int:
        """The status list's size: the stored one (a power of two), at least the minimum,
        and above every index in use (rows migrated from sequential indices)."""
        row = self._conn.execute("SELECT value FROM holder_settings WHERE name = ?",
                                 (LIST_SIZE_SETTING,)).fetchone()
        size = max(self._min_list_size, int(row[0]) if row is not None else 0)
        top = self._conn.execute("SELECT max(status_idx) FROM holder_credentials").fetchone()[0]
        while top is not None and size <= top:
            size *= 2
        return size

    def _allocate(self) -> int:
        """A free status index, drawn at random below the list size (doubled first when
        the new credential would fill more than half of it); inside the write
        transaction, so two activations never draw the same index."""
        size = self._list_size()
        used = int(self._conn.execute("SELECT count(*) FROM holder_credentials").fetchone()[0])
        while 2 * (used + 1) > size and size < MAX_LIST_SIZE:
            size *= 2
        self._conn.execute(
            "INSERT INTO holder_settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (LIST_SIZE_SETTING, str(size)))
        for _ in range(MAX_DRAWS):
            drawn = self._random(8)
            if not isinstance(drawn, bytes) or len(drawn) != 8:
                raise InvalidArgument("the random source returned the wrong number of bytes")
            idx = int.from_bytes(drawn, "big") % size  # size is a power of two: uniform
            if self._conn.execute("SELECT 1 FROM holder_credentials WHERE status_idx = ?",
                                  (idx,)).fetchone() is None:
                return idx
        raise _registry_error("no free status index was drawn")

    def _read(self) -> _Txn:
        return _Txn(self._conn, "BEGIN")

    # --- changing ------------------------------------------------------

    def activate(self, request: Activation, now: int, expires_at: int,
                 issue: Callable[[Record], T]) -> tuple[Record, T, list[int]]:
        """Bind a device: revoke the person's previous device credential (and the
        delegations on it), insert the new one, and ``issue`` it, in one transaction.

        Returns the new record, what ``issue`` returned, and the indices revoked.
        """
        if not isinstance(request, Activation):
            raise InvalidArgument("request must be an Activation")
        with self._write():
            old = self.active_device(request.cert_id)
            revoked = self._revoke_device(old, now, "replaced") if old is not None else []
            idx = self._allocate()
            self._conn.execute(
                "INSERT INTO holder_credentials (status_idx, kind, cert_id, device_key, region, "
                "insutype, channel, masked_name, subject_kind, auth_method, issued_at, "
                "expires_at) VALUES (?, 'device', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idx, request.cert_id, request.device_key, request.region.code,
                 request.insurance_type.value, request.channel.value, request.masked_name,
                 request.subject_kind.value, request.auth_method, now, expires_at))
            record = self.get(idx)
            assert record is not None
            return record, issue(record), revoked

    def _revoke_device(self, device: Record, now: int, reason: str) -> list[int]:
        rows = self._conn.execute(
            "SELECT status_idx FROM holder_credentials WHERE revoked_at IS NULL AND "
            "(status_idx = ? OR parent_idx = ?)", (device.status_idx, device.status_idx)
        ).fetchall()
        self._conn.execute(
            "UPDATE holder_credentials SET revoked_at = ?, revoke_reason = ? "
            "WHERE revoked_at IS NULL AND (status_idx = ? OR parent_idx = ?)",
            (now, reason, device.status_idx, device.status_idx))
        return sorted(int(r[0]) for r in rows)

    def unbind(self, cert_id: str, now: int) -> list[int]:
        """Unbind the person's phone: its credential and every delegation on it are revoked."""
        with self._write():
            device = self.active_device(cert_id)
            if device is None:
                raise EcertError(ErrorCode.CREDENTIAL_NOT_USABLE, "no active device credential")
            return self._revoke_device(device, now, "unbound")

    def add_family_member(self, holder_id: str, member_id: str, now: int) -> None:
        """Bind a member to the holder (idempotent); the sixth is refused (``family_full``)."""
        validate_credential_id(holder_id)
        validate_credential_id(member_id)
        if holder_id == member_id:
            raise InvalidArgument("a holder cannot be their own family member")
        with self._write():
            self._insert_member(holder_id, member_id, now)

    def remove_family_member(self, holder_id: str, member_id: str, now: int) -> list[int]:
        """Unbind a member from the holder: the family row goes and every active
        delegation of that member on the holder's devices is revoked (their indices)."""
        with self._write():
            if self._conn.execute("DELETE FROM holder_family WHERE holder_id = ? AND "
                                  "member_id = ?", (holder_id, member_id)).rowcount != 1:
                raise InvalidArgument("no such family member")
            rows = self._conn.execute(
                "SELECT status_idx FROM holder_credentials WHERE kind = 'delegation' AND "
                "revoked_at IS NULL AND cert_id = ? AND holder_id = ?",
                (member_id, holder_id)).fetchall()
            self._conn.execute(
                "UPDATE holder_credentials SET revoked_at = ?, revoke_reason = 'member removed' "
                "WHERE kind = 'delegation' AND revoked_at IS NULL AND cert_id = ? "
                "AND holder_id = ?", (now, member_id, holder_id))
            return sorted(int(r[0]) for r in rows)

    def _insert_member(self, holder_id: str, member_id: str, now: int) -> None:
        try:
            self._conn.execute(
                "INSERT INTO holder_family (holder_id, member_id, added_at) VALUES (?, ?, ?) "
                "ON CONFLICT (holder_id, member_id) DO NOTHING", (holder_id, member_id, now))
        except sqlite3.IntegrityError as exc:
            if FAMILY_FULL_MESSAGE in str(exc):
                raise EcertError(ErrorCode.FAMILY_FULL) from None
            raise

    def delegate(self, holder_id: str, member: Activation, now: int, expires_at: int,
                 issue: Callable[[Record], T]) -> tuple[Record, T]:
        """Bind ``member`` to the holder (if not yet) and issue a delegation to the
        holder's active device; a previous delegation of that member on it is revoked."""
        if member.cert_id == holder_id:
            raise InvalidArgument("a holder cannot be their own family member")
        with self._write():
            device = self.active_device(holder_id)
            if device is None:
                raise EcertError(ErrorCode.CREDENTIAL_NOT_USABLE, "holder has no active device")
            self._insert_member(holder_id, member.cert_id, now)
            self._conn.execute(
                "UPDATE holder_credentials SET revoked_at = ?, revoke_reason = 'replaced' "
                "WHERE kind = 'delegation' AND revoked_at IS NULL AND cert_id = ? "
                "AND parent_idx = ?", (now, member.cert_id, device.status_idx))
            idx = self._allocate()
            self._conn.execute(
                "INSERT INTO holder_credentials (status_idx, kind, cert_id, holder_id, "
                "parent_idx, device_key, region, insutype, channel, masked_name, subject_kind, "
                "auth_method, issued_at, expires_at) "
                "VALUES (?, 'delegation', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idx, member.cert_id, holder_id, device.status_idx, device.device_key,
                 member.region.code, member.insurance_type.value, member.channel.value,
                 member.masked_name, member.subject_kind.value, member.auth_method, now,
                 min(expires_at, device.expires_at)))
            record = self.get(idx)
            assert record is not None
            return record, issue(record)

    def _write(self) -> _Txn:
        return _Txn(self._conn, "BEGIN IMMEDIATE")


class _Txn:
    """A transaction: committed on success, rolled back on any exception;
    SQLite errors become ``registry_unavailable``."""

    def __init__(self, conn: sqlite3.Connection, begin: str) -> None:
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> None:
        try:
            self._conn.execute(self._begin)
        except sqlite3.Error:
            raise _registry_error("the registry is busy or unavailable") from None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> Literal[False]:
        try:
            self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        except sqlite3.Error:
            if exc_type is None:
                raise _registry_error("cannot commit to the registry") from None
        if isinstance(exc, sqlite3.Error):
            raise _registry_error("the registry refused the change") from None
        return False
