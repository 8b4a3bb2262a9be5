"""The activation registry: which device holds which credential, and who may show whose code.

Every change runs in one ``BEGIN IMMEDIATE`` transaction together with the
signing step the caller passes in (``issue``), so a credential exists in the
registry exactly when it was issued: if signing fails, nothing is written.
SQLite errors become :class:`EcertError` ``registry_error``; the five-member
limit, enforced by a trigger, becomes ``family_full``.
"""

from __future__ import annotations

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
    return EcertError(ErrorCode.REGISTRY_ERROR, detail)


class ActivationRegistry:
    """The registry in one SQLite file (created and migrated on open)."""

    def __init__(self, path: str | PathLike[str], *, timeout: float = 10.0) -> None:
        try:
            self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            migrate(self._conn, COMPONENT, MIGRATIONS)
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
        return self._one("WHERE cert_id = ? ORDER BY status_idx DESC LIMIT 1", (cert_id,))

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
        """``(size, revoked indices)``: the list covers indices 0 to size - 1."""
        try:
            with self._read():
                size_row = self._conn.execute(
                    "SELECT coalesce(max(status_idx), 0) + 1 FROM holder_credentials").fetchone()
                rows = self._conn.execute(
                    "SELECT status_idx FROM holder_credentials WHERE revoked_at IS NOT NULL"
                ).fetchall()
        except sqlite3.Error:
            raise _registry_error("cannot read the registry") from None
        return int(size_row[0]), [int(r[0]) for r in rows]

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
            cur = self._conn.execute(
                "INSERT INTO holder_credentials (kind, cert_id, device_key, region, insutype, "
                "channel, masked_name, subject_kind, auth_method, issued_at, expires_at) "
                "VALUES ('device', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (request.cert_id, request.device_key, request.region.code,
                 request.insurance_type.value, request.channel.value, request.masked_name,
                 request.subject_kind.value, request.auth_method, now, expires_at))
            record = self.get(int(cur.lastrowid or 0))
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
            cur = self._conn.execute(
                "INSERT INTO holder_credentials (kind, cert_id, holder_id, parent_idx, "
                "device_key, region, insutype, channel, masked_name, subject_kind, auth_method, "
                "issued_at, expires_at) VALUES ('delegation', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (member.cert_id, holder_id, device.status_idx, device.device_key,
                 member.region.code, member.insurance_type.value, member.channel.value,
                 member.masked_name, member.subject_kind.value, member.auth_method, now,
                 min(expires_at, device.expires_at)))
            record = self.get(int(cur.lastrowid or 0))
            assert record is not None
            return record, issue(record)

    def _write(self) -> _Txn:
        return _Txn(self._conn, "BEGIN IMMEDIATE")


class _Txn:
    """A transaction: committed on success, rolled back on any exception;
    SQLite errors become ``registry_error``."""

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
