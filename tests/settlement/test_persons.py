"""The person registry: validation, a real SQLite file shared with other tables,
faults as REGISTRY_UNAVAILABLE, and no personal data in any error or repr."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecert_token import EcertError, ErrorCode, InsuranceType, InvalidArgument, PsnCertType, Region
from ecert_token.model.settlement import credential_ref
from ecert_token.settlement import Person, PersonRegistry
from ecert_token.settlement.persons import SCHEMA_COMPONENT, SCHEMA_VERSION
from tests.settlement.conftest import CITIZEN_ID


def person(cert_type: PsnCertType = PsnCertType.RESIDENT_ID_CARD, certno: str = CITIZEN_ID,
           name: str = "张三丰", cid: str = "E4Q7ZK2M9PXA") -> Person:
    return Person(cid, cert_type, certno, name, Region("110105"), InsuranceType.EMPLOYEE_BASIC)


@pytest.mark.parametrize(("cert_type", "certno", "name"), [
    (PsnCertType.RESIDENT_ID_CARD, CITIZEN_ID, "张三丰"),
    (PsnCertType.FOREIGN_PASSPORT, "E12345678", "John Smith"),
    (PsnCertType.FOREIGNER_PERMANENT_RESIDENCE, "USA110079012345", "María O'Neil-Díaz"),
    (PsnCertType.HONG_KONG_DOCUMENT, "H12345678", "陳大文"),
    (PsnCertType.TAIWAN_TRAVEL_PERMIT, "12345678", "林志玲"),
    (PsnCertType.SOCIAL_SECURITY_CARD, "D12345678", "买买提·艾力"),
    (PsnCertType.OTHER, "A-1(2)", "Ng"),
])
def test_valid_people(cert_type: PsnCertType, certno: str, name: str) -> None:
    assert person(cert_type, certno, name).to_dict()["psn_cert_type"] == cert_type.value


@pytest.mark.parametrize(("cert_type", "certno"), [
    (PsnCertType.RESIDENT_ID_CARD, "110105194912310021"),  # wrong check character
    (PsnCertType.RESIDENT_ID_CARD, "11010519491231002x"),
    (PsnCertType.RESIDENT_ID_CARD, "１１０１０５１９４９１２３１００２X"),
    (PsnCertType.RESIDENT_ID_CARD, "110105491231002"),
    (PsnCertType.FOREIGN_PASSPORT, ""),
    (PsnCertType.FOREIGN_PASSPORT, "e12345678"),
    (PsnCertType.FOREIGN_PASSPORT, "E 1234"),
    (PsnCertType.FOREIGN_PASSPORT, "E" * 51),
])
def test_bad_document_numbers(cert_type: PsnCertType, certno: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        person(cert_type, certno)
    assert certno not in str(info.value) or not certno


@pytest.mark.parametrize("name", ["", " 张三", "张三 ", "John  Smith", "R2D2", "x" * 51,
                                  "-Ann", "张\n三", "Ann;DROP"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        person(name=name)
    assert not name.strip() or name.strip() not in str(info.value)


def test_repr_hides_personal_data() -> None:
    text = repr(person()) + str(person())
    assert CITIZEN_ID not in text and "张三丰" not in text and "E4Q7ZK2M9PXA" not in text


def test_round_trip_in_a_shared_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    # Another component's tables in the same file (the activation registry does this).
    with sqlite3.connect(db) as other:
        other.execute("CREATE TABLE activations (credential_id TEXT PRIMARY KEY)")
        other.execute("INSERT INTO activations VALUES ('E4Q7ZK2M9PXA')")
    with PersonRegistry(db) as registry:
        registry.add(person())
        registry.add(person(PsnCertType.FOREIGN_PASSPORT, "E12345678", "John Smith", "FRGN000001"))
        assert registry.get("E4Q7ZK2M9PXA") == person()
        assert registry.candidates(credential_ref("E4Q7ZK2M9PXA")) == ["E4Q7ZK2M9PXA"]
        assert registry.get("NOBODY0001") is None
    with PersonRegistry(db) as again:  # reopened: the rows and the schema row survive
        assert again.get("FRGN000001") is not None
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT * FROM activations").fetchall() == [("E4Q7ZK2M9PXA",)]
        assert check.execute("SELECT component, version FROM schema_versions").fetchall() == [
            (SCHEMA_COMPONENT, SCHEMA_VERSION)]


def test_a_credential_is_registered_once(tmp_path: Path) -> None:
    with PersonRegistry(tmp_path / "p.db") as registry:
        registry.add(person())
        with pytest.raises(EcertError) as info:
            registry.add(person(PsnCertType.FOREIGN_PASSPORT, "E12345678", "John Smith"))
        assert info.value.code is ErrorCode.PERSON_EXISTS
        assert registry.get("E4Q7ZK2M9PXA") == person()  # nothing half-written


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    PersonRegistry(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_versions SET version = 99")
    with pytest.raises(EcertError) as info:
        PersonRegistry(db)
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE


def test_faults_are_registry_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(EcertError) as info:
        PersonRegistry(tmp_path / "dir.db")
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE
    db = tmp_path / "p.db"
    registry = PersonRegistry(db)
    registry.add(person())
    with sqlite3.connect(db) as conn:  # a corrupted row
        conn.execute("UPDATE settlement_persons SET psn_cert_type = '77'")
    with pytest.raises(EcertError) as info:
        registry.get("E4Q7ZK2M9PXA")
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE
    assert CITIZEN_ID not in str(info.value)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE settlement_persons")
    with pytest.raises(EcertError) as info:
        registry.candidates(b"\x00" * 8)
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE
    registry.close()


def test_bulk_import_is_all_or_nothing(tmp_path: Path) -> None:
    people = [person(PsnCertType.FOREIGN_PASSPORT, f"E{i:08d}", "John Smith", f"BULK{i:06d}")
              for i in range(50)]
    with PersonRegistry(tmp_path / "p.db") as registry:
        assert registry.add_many(people) == 50
        again = [person(PsnCertType.FOREIGN_PASSPORT, "E1", "Ann Lee", "BULK999999"), people[7]]
        with pytest.raises(EcertError) as info:
            registry.add_many(again)
        assert info.value.code is ErrorCode.PERSON_EXISTS
        assert registry.get("BULK999999") is None  # the first row was rolled back too
        assert registry.get("BULK000049") == people[49]


def test_put_registers_or_replaces(tmp_path: Path) -> None:
    with PersonRegistry(tmp_path / "p.db") as registry:
        registry.put(person())
        moved = Person("E4Q7ZK2M9PXA", PsnCertType.RESIDENT_ID_CARD, CITIZEN_ID, "张三丰",
                       Region("619900"), InsuranceType.RESIDENT_BASIC)
        registry.put(moved)
        assert registry.get("E4Q7ZK2M9PXA") == moved
        assert registry.candidates(credential_ref("E4Q7ZK2M9PXA")) == ["E4Q7ZK2M9PXA"]
