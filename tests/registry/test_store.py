"""The activation registry on real SQLite files: the database enforces its rules."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecert_token.errors import EcertError, ErrorCode
from ecert_token.registry import ActivationRegistry
from ecert_token.registry.schema import COMPONENT, MIGRATIONS, migrate, version

from ..conftest import NOW
from ..holder.conftest import HOLDER, MEMBER, activation, device


def _issue(record: object) -> str:
    return "issued"


def test_activation_records_and_revokes_the_previous_phone(tmp_path: Path) -> None:
    with ActivationRegistry(tmp_path / "r.db") as reg:
        first, _, revoked = reg.activate(activation(HOLDER, device(b"a")), NOW, NOW + 10, _issue)
        assert revoked == [] and first.active and first.kind == "device"
        second, out, revoked = reg.activate(activation(HOLDER, device(b"b")), NOW + 1,
                                            NOW + 10, _issue)
        assert out == "issued" and revoked == [first.status_idx]
        assert second.status_idx != first.status_idx
        old = reg.get(first.status_idx)
        assert old is not None and old.revoked_at == NOW + 1 and old.revoke_reason == "replaced"
        assert reg.active_device(HOLDER) == second
        assert reg.revoked() == (2**16, [first.status_idx])


def test_database_refuses_a_second_active_device(tmp_path: Path) -> None:
    """The rule lives in the database (partial UNIQUE index), not only in the code."""
    path = tmp_path / "r.db"
    with ActivationRegistry(path) as reg:
        reg.activate(activation(HOLDER, device(b"a")), NOW, NOW + 10, _issue)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO holder_credentials (status_idx, kind, cert_id, device_key, region, "
            "insutype, channel, masked_name, subject_kind, auth_method, issued_at, expires_at) "
            "VALUES (7, 'device', ?, ?, '110105', '310', '2', '张*', '1', 'x', 1, 2)",
            (HOLDER, bytes(32)))
    conn.close()


def test_six_family_members_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with ActivationRegistry(path) as reg:
        for i in range(5):
            reg.add_family_member(HOLDER, f"MEMBER{i:04d}", NOW)
        reg.add_family_member(HOLDER, "MEMBER0000", NOW)  # the same member again: no change
        with pytest.raises(EcertError) as info:
            reg.add_family_member(HOLDER, "MEMBER0005", NOW)
        assert info.value.code is ErrorCode.FAMILY_FULL
        assert len(reg.family(HOLDER)) == 5
        reg.add_family_member("OTHERHOLDER", "MEMBER0005", NOW)  # per holder
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="family_full"):
        conn.execute("INSERT INTO holder_family VALUES (?, 'MEMBER0009', 1)", (HOLDER,))
    conn.close()


def test_removing_a_member_frees_a_place_and_ends_the_delegation(tmp_path: Path) -> None:
    with ActivationRegistry(tmp_path / "r.db") as reg:
        reg.activate(activation(HOLDER, device(b"a")), NOW, NOW + 100, _issue)
        record, _ = reg.delegate(HOLDER, activation(MEMBER, device(b"m")), NOW, NOW + 50,
                                 _issue)
        for i in range(4):
            reg.add_family_member(HOLDER, f"MEMBER{i:04d}", NOW)
        with pytest.raises(EcertError):
            reg.add_family_member(HOLDER, "MEMBER0009", NOW)
        assert reg.remove_family_member(HOLDER, MEMBER, NOW + 1) == [record.status_idx]
        gone = reg.get(record.status_idx)
        assert gone is not None and gone.revoke_reason == "member removed"
        reg.add_family_member(HOLDER, "MEMBER0009", NOW + 2)  # the place is free again
        assert MEMBER not in reg.family(HOLDER) and len(reg.family(HOLDER)) == 5
        with pytest.raises(EcertError):
            reg.remove_family_member(HOLDER, MEMBER, NOW + 3)


def test_delegation_needs_an_active_holder_device(tmp_path: Path) -> None:
    with ActivationRegistry(tmp_path / "r.db") as reg:
        with pytest.raises(EcertError) as info:
            reg.delegate(HOLDER, activation(MEMBER, device(b"m")), NOW, NOW + 10, _issue)
        assert info.value.code is ErrorCode.CREDENTIAL_NOT_USABLE
        assert reg.family(HOLDER) == []  # nothing half-written
        holder, _, _ = reg.activate(activation(HOLDER, device(b"a")), NOW, NOW + 100, _issue)
        record, _ = reg.delegate(HOLDER, activation(MEMBER, device(b"m")), NOW, NOW + 500,
                                 _issue)
        assert record.kind == "delegation" and record.holder_id == HOLDER
        assert record.parent_idx == holder.status_idx
        assert record.device_key == holder.device_key  # bound to the holder's device
        assert record.expires_at == holder.expires_at  # never outlives the holder's credential
        assert reg.unbind(HOLDER, NOW + 1) == sorted([holder.status_idx, record.status_idx])
        with pytest.raises(EcertError) as info:
            reg.unbind(HOLDER, NOW + 2)
        assert info.value.code is ErrorCode.CREDENTIAL_NOT_USABLE


def test_a_failed_issue_writes_nothing(tmp_path: Path) -> None:
    def fail(record: object) -> str:
        raise EcertError(ErrorCode.KEY_NOT_VALID)

    with ActivationRegistry(tmp_path / "r.db") as reg:
        first, _, _ = reg.activate(activation(HOLDER, device(b"a")), NOW, NOW + 10, _issue)
        with pytest.raises(EcertError):
            reg.activate(activation(HOLDER, device(b"b")), NOW + 1, NOW + 10, fail)
        assert reg.active_device(HOLDER) == first  # the old phone was not revoked either
        assert reg.revoked() == (2**16, [])


def test_migrations_share_the_file_with_other_components(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE persons (cert_id TEXT PRIMARY KEY, name TEXT)")
    conn.execute("PRAGMA user_version = 7")  # someone else's use of the file-wide number
    assert migrate(conn, "settlement", [["CREATE TABLE receipts (id INTEGER)"]]) == 1
    conn.close()
    with ActivationRegistry(path) as reg:
        reg.activate(activation(HOLDER, device(b"a")), NOW, NOW + 10, _issue)
    with ActivationRegistry(path) as reg:  # reopening is a no-op migration
        assert reg.active_device(HOLDER) is not None
    conn = sqlite3.connect(path, isolation_level=None)
    assert version(conn, COMPONENT) == len(MIGRATIONS)
    assert version(conn, "settlement") == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"persons", "receipts", "holder_credentials", "holder_family"} <= tables
    conn.execute("UPDATE schema_versions SET version = 99 WHERE component = ?", (COMPONENT,))
    conn.close()
    with pytest.raises(EcertError) as info:
        ActivationRegistry(path)
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE


def test_unusable_file_is_registry_unavailable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(EcertError) as info:
        ActivationRegistry(bad)
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE
    assert info.value.to_dict()["error"] == "registry_unavailable"


def test_settings_are_written_once(tmp_path: Path) -> None:
    with ActivationRegistry(tmp_path / "r.db") as reg:
        assert reg.set_setting_once("status_uri", "ec:A") == "ec:A"
        assert reg.set_setting_once("status_uri", "ec:B") == "ec:A"
        assert reg.setting("missing") is None


def test_concurrent_activations_leave_one_active_phone(tmp_path: Path) -> None:
    """Four processes activate four phones for one person at once: the database keeps
    exactly one active device credential and records the other three as replaced."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from ecert_token.registry import ActivationRegistry\n"
        "from tests.holder.conftest import activation, device\n"
        "with ActivationRegistry(sys.argv[1], timeout=60) as reg:\n"
        "    reg.activate(activation(sys.argv[2], device(sys.argv[3].encode())),"
        " int(sys.argv[4]), int(sys.argv[4]) + 100, lambda r: None)\n"
    )
    path = tmp_path / "r.db"
    ActivationRegistry(path).close()
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), HOLDER, f"phone{i}",
                               str(NOW + i)], cwd=root)
             for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT revoked_at IS NULL, revoke_reason FROM holder_credentials "
                        "WHERE cert_id = ?", (HOLDER,)).fetchall()
    conn.close()
    assert sorted(rows, key=str) == sorted([(1, None), (0, "replaced"), (0, "replaced"),
                                            (0, "replaced")], key=str)


def test_status_indices_are_random_unique_and_below_the_list_size(tmp_path: Path) -> None:
    """The Token Status List draft's advice: no sequential indices (registry/store.py)."""
    from ecert_token_tools.vectors import seeded_random

    def people(reg: ActivationRegistry) -> list[int]:
        out = []
        for i in range(40):
            record, _, _ = reg.activate(activation(f"PERSON{i:06d}", device(b"p%d" % i)),
                                        NOW, NOW + 10, _issue)
            out.append(record.status_idx)
        return out

    with ActivationRegistry(tmp_path / "a.db", random_bytes=seeded_random(b"idx"),
                            min_list_size=16) as reg:
        indices = people(reg)
        size, revoked = reg.revoked()
    assert len(set(indices)) == 40 and all(0 <= i < size for i in indices)
    assert size == 128 and revoked == []  # 16 doubled while more than half would be used
    assert indices != sorted(indices)  # not handed out in order
    with ActivationRegistry(tmp_path / "b.db", random_bytes=seeded_random(b"idx"),
                            min_list_size=16) as reg:
        assert people(reg) == indices  # the randomness is injected: reproducible
    with ActivationRegistry(tmp_path / "c.db") as reg:  # os.urandom by default
        first = people(reg)
        assert reg.revoked()[0] == 2**16 and first != indices


def test_a_random_source_that_repeats_is_detected(tmp_path: Path) -> None:
    """Indices stay unique even when the source keeps drawing taken ones; a source that
    never draws a free one fails the activation, and nothing is written."""
    with ActivationRegistry(tmp_path / "r.db", random_bytes=bytes,
                            min_list_size=16) as reg:
        first, _, _ = reg.activate(activation(HOLDER, device(b"a")), NOW, NOW + 10, _issue)
        assert first.status_idx == 0
        with pytest.raises(EcertError) as info:
            reg.activate(activation(MEMBER, device(b"b")), NOW, NOW + 10, _issue)
        assert info.value.code is ErrorCode.REGISTRY_ERROR
        assert reg.active_device(MEMBER) is None
        with pytest.raises(EcertError):
            ActivationRegistry(tmp_path / "x.db", min_list_size=3)
    with ActivationRegistry(tmp_path / "y.db", random_bytes=lambda n: b"\x01") as short:
        with pytest.raises(EcertError) as info:  # a short draw is refused, not used
            short.activate(activation(HOLDER, device(b"a")), NOW, NOW + 10, _issue)
        assert info.value.code is ErrorCode.INVALID_ARGUMENT
        assert short.active_device(HOLDER) is None


def test_version_1_files_migrate_keeping_their_indices(tmp_path: Path) -> None:
    """A registry written by schema version 1 (sequential indices, 32-byte keys): opening
    it migrates to version 2 in place; issued indices, delegations and the rules stay."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn, COMPONENT, MIGRATIONS[:1])
    insert = ("INSERT INTO holder_credentials (kind, cert_id, holder_id, parent_idx, device_key, "
              "region, insutype, channel, masked_name, subject_kind, auth_method, issued_at, "
              "expires_at, revoked_at, revoke_reason) VALUES (?, ?, ?, ?, ?, '110105', '310', "
              "'2', '张*', '1', 'x', 1, 99, ?, ?)")
    conn.execute(insert, ("device", HOLDER, None, None, bytes(32), 5, "replaced"))
    conn.execute(insert, ("device", HOLDER, None, None, bytes(range(32)), None, None))
    conn.execute(insert, ("delegation", MEMBER, HOLDER, 2, bytes(range(32)), None, None))
    conn.close()
    with ActivationRegistry(path) as reg:
        device_row = reg.active_device(HOLDER)
        assert device_row is not None and device_row.status_idx == 2
        assert reg.latest(MEMBER) is not None and reg.get(3) is not None
        assert reg.get(3).parent_idx == 2  # type: ignore[union-attr]
        assert reg.revoked() == (2**16, [1])
        assert reg.latest(HOLDER) == device_row  # the issue order survived (seq)
        record, _, revoked = reg.activate(activation(HOLDER, device(b"n", "sm")), NOW,
                                          NOW + 10, _issue)
        assert sorted(revoked) == [2, 3] and record.status_idx not in (1, 2, 3)
        assert len(record.device_key) == 33 and reg.latest(HOLDER) == record
    conn = sqlite3.connect(path)
    assert version(conn, COMPONENT) == 2 == len(MIGRATIONS)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError):  # the one-active-device index came back
        conn.execute("UPDATE holder_credentials SET revoked_at = NULL, revoke_reason = NULL "
                     "WHERE status_idx = 2")
    with pytest.raises(sqlite3.IntegrityError):  # device keys: 32 or 33 bytes only
        conn.execute("UPDATE holder_credentials SET device_key = ? WHERE status_idx = 1",
                     (bytes(64),))
    conn.close()
