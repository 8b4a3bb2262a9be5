"""The platform's person registry: a credential id's settlement identity, in SQLite.

Settlement needs the person's document type (``psn_cert_type``), document
number (``certno``) and name (``psn_name``).  They are personal information
(PIPL): they never travel in a code, never enter a log or an error, and stay
in this registry, which the platform consults when it resolves a handle.

The registry can share one SQLite file with the activation registry
(``ecert_token.registry``): its tables are prefixed ``settlement_`` and it keeps
its own version row in ``schema_versions``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from ..clock import Clock, system_clock
from ..errors import EcertError, ErrorCode, InvalidArgument
from ..model import InsuranceType, PsnCertType, Region
from ..model.credential import validate_credential_id
from ..model.settlement import credential_ref
from .db import Database, guarded, open_db

SCHEMA_COMPONENT = "settlement-persons"
SCHEMA_VERSION = 1
MAX_CERTNO_CHARS = 50
MAX_NAME_CHARS = 50
"""``certno`` and ``psn_name`` are 50-character fields of the national interface."""

_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
_DOCUMENT_NO = re.compile(r"[0-9A-Z][0-9A-Z()\-]{0,49}")
_NAME_PUNCT = frozenset(" ·.-'")


def validate_certno(psn_cert_type: PsnCertType, certno: object) -> str:
    """A document number: an 18-character resident ID with a valid GB 11643 check
    character for type 01, else 1 to 50 upper-case letters, digits, ``-`` and
    brackets (passports, permits, card numbers)."""
    if not isinstance(certno, str):
        raise InvalidArgument("certno must be text")
    if psn_cert_type is PsnCertType.RESIDENT_ID_CARD:
        if _RESIDENT_ID.fullmatch(certno) is None:
            raise InvalidArgument("a resident ID number is 17 digits and a check character")
        total = sum(int(d) * w for d, w in zip(certno, _RESIDENT_WEIGHTS, strict=False))
        if _RESIDENT_CHECK[total % 11] != certno[17]:
            raise InvalidArgument("the resident ID number's check character is wrong")
        return certno
    if _DOCUMENT_NO.fullmatch(certno) is None:
        raise InvalidArgument(
            "a document number is 1 to 50 upper-case letters, digits, '-' or brackets")
    return certno


def validate_person_name(name: object) -> str:
    """A full name: 1 to 50 letters of any script, with spaces, ``·``, ``.``, ``-``
    or ``'`` between them (``张三丰``, ``买买提·艾力``, ``María O'Neil``)."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidArgument("a name is 1 to 50 characters")
    if name != name.strip() or not name[0].isalpha():
        raise InvalidArgument("a name starts with a letter and has no outer spaces")
    if not all(c.isalpha() or c in _NAME_PUNCT for c in name) or "  " in name:
        raise InvalidArgument("a name has letters and single separators only")
    return name


@dataclass(frozen=True, slots=True)
class Person:
    """One credential's settlement identity.  ``repr()`` shows no personal data."""

    credential_id: str = field(repr=False)
    psn_cert_type: PsnCertType
    certno: str = field(repr=False)
    psn_name: str = field(repr=False)
    insuplc_admdvs: Region
    insutype: InsuranceType

    def __post_init__(self) -> None:
        validate_credential_id(self.credential_id)
        if not isinstance(self.psn_cert_type, PsnCertType):
            raise InvalidArgument("psn_cert_type must be a PsnCertType")
        validate_certno(self.psn_cert_type, self.certno)
        validate_person_name(self.psn_name)
        if not isinstance(self.insuplc_admdvs, Region):
            raise InvalidArgument("insuplc_admdvs must be a Region")
        if not isinstance(self.insutype, InsuranceType):
            raise InvalidArgument("insutype must be an InsuranceType")

    def to_dict(self) -> dict[str, object]:
        """The settlement identity, keyed by the national interface's field names."""
        return {
            "psn_cert_type": self.psn_cert_type.value,
            "certno": self.certno,
            "psn_name": self.psn_name,
            "insuplc_admdvs": self.insuplc_admdvs.code,
            "insutype": self.insutype.value,
        }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS settlement_persons (
    credential_id TEXT PRIMARY KEY,
    ref BLOB NOT NULL,
    psn_cert_type TEXT NOT NULL,
    certno TEXT NOT NULL,
    psn_name TEXT NOT NULL,
    insuplc_admdvs TEXT NOT NULL,
    insutype TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS settlement_persons_ref ON settlement_persons (ref);
"""


class PersonRegistry(Database):
    """Persons by credential id, in a SQLite file (WAL; several processes may share it).

    Every database fault becomes REGISTRY_UNAVAILABLE with a fixed message; no
    query text or value ever reaches an error.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = system_clock) -> None:
        self.path = path
        self._clock = clock
        self._db = open_db(path, SCHEMA_COMPONENT, SCHEMA_VERSION, _SCHEMA)

    def _guard(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        return guarded(self._db, what, ErrorCode.PERSON_EXISTS)

    def add(self, person: Person) -> None:
        """Register ``person``; PERSON_EXISTS if the credential id is taken."""
        self.add_many([person])

    def add_many(self, persons: Iterable[Person]) -> int:
        """Register several persons in one transaction (a bulk import): all or none.

        PERSON_EXISTS if any credential id is taken or repeated; nothing is
        written then.  Returns how many were registered.
        """
        at = self._clock()
        rows = []
        for person in persons:
            if not isinstance(person, Person):
                raise InvalidArgument("person must be a Person")
            rows.append((person.credential_id, credential_ref(person.credential_id),
                         person.psn_cert_type.value, person.certno, person.psn_name,
                         person.insuplc_admdvs.code, person.insutype.value, at))
        with self._guard("cannot write the database") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO settlement_persons VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return len(rows)

    def put(self, person: Person) -> None:
        """Register ``person`` or replace what is held for its credential id: what an
        activation does (a person who activates again on a new phone, or whose
        document changed, keeps one row)."""
        if not isinstance(person, Person):
            raise InvalidArgument("person must be a Person")
        with self._guard("cannot write the database") as db:
            db.execute(
                "INSERT INTO settlement_persons VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (credential_id) DO UPDATE SET psn_cert_type = excluded.psn_cert_type,"
                " certno = excluded.certno, psn_name = excluded.psn_name,"
                " insuplc_admdvs = excluded.insuplc_admdvs, insutype = excluded.insutype,"
                " registered_at = excluded.registered_at",
                (person.credential_id, credential_ref(person.credential_id),
                 person.psn_cert_type.value, person.certno, person.psn_name,
                 person.insuplc_admdvs.code, person.insutype.value, self._clock()),
            )

    def get(self, credential_id: str) -> Person | None:
        """The person registered for ``credential_id``, or None."""
        validate_credential_id(credential_id)
        with self._guard("cannot read the database") as db:
            row = db.execute(
                "SELECT credential_id, psn_cert_type, certno, psn_name, insuplc_admdvs, insutype"
                " FROM settlement_persons WHERE credential_id = ?", (credential_id,),
            ).fetchone()
        if row is None:
            return None
        try:
            return Person(row[0], PsnCertType(row[1]), row[2], row[3], Region(row[4]),
                          InsuranceType(row[5]))
        except (ValueError, EcertError):
            raise EcertError(ErrorCode.REGISTRY_UNAVAILABLE, "a stored row is invalid") from None

    def candidates(self, ref: bytes) -> list[str]:
        """The credential ids whose ref is ``ref`` (usually one, rarely more)."""
        with self._guard("cannot read the database") as db:
            rows = db.execute(
                "SELECT credential_id FROM settlement_persons WHERE ref = ? LIMIT 16", (ref,)
            ).fetchall()
        return [r[0] for r in rows]

    def remove(self, credential_id: str) -> bool:
        """Forget a person (after unbinding and the retention period); True if one was."""
        validate_credential_id(credential_id)
        with self._guard("cannot write the database") as db:
            cursor = db.execute("DELETE FROM settlement_persons WHERE credential_id = ?",
                                (credential_id,))
        return cursor.rowcount > 0
