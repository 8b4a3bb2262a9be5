"""Offline payment confirmation on the command line, in real processes: a foreigner
activated with a passport and a Latin-script name, the two-scan flow (``pay request``,
``present --transaction``, ``verify --transaction``), a mismatch refused, the ceiling
flow at two offline tills with separate SQLite replay stores, vouchers deduplicated by
device counter, the handle resolved and the voucher settled."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_cli import ecert

NOW = 1_790_000_000
CID = "FRGN7Q2K9M"
PAYEE = "P31011500017"


def ok(*args: str) -> dict[str, object]:
    proc = ecert(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def refused(code: str, *args: str, status: int = 1) -> None:
    proc = ecert(*args)
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["error"] == code


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pay")
    ok("keygen", "--out", str(d / "k"))
    ok("device", "keygen", "--out", str(d / "phone"))
    out = ok("activate", "--keys", str(d / "k"), "--registry", str(d / "p.db"), "--device",
             str(d / "phone"), "--cert-id", CID, "--region", "310115", "--insutype", "391",
             "--psn-cert-type", "08", "--certno", "E12345678", "--name", "John Smith",
             "--now", str(NOW - 3600), "--out", str(d / "cred.json"))
    assert out["person_registered"] is True
    for name, tid in (("till1", "T3101150001"), ("till2", "T3101150002")):
        ok("terminal", "keygen", "--out", str(d / name), "--terminal-id", tid,
           "--institution", PAYEE)
    return d


def test_activate_records_the_identity_in_the_registry_only(world: Path) -> None:
    d = world
    text = (d / "cred.json").read_text()
    assert "John" not in text and "E12345678" not in text
    shown = ecert("present", "--credential", str(d / "cred.json"), "--device", str(d / "phone"),
                  "--business", "01101", "--now", str(NOW)).stdout.strip()
    v = ok("verify", "--keys", str(d / "k"), "--business", "01101", "--now", str(NOW), shown)
    assert v["masked_name"] == "J* S*"
    handle = v["settlement"]["mdtrt_cert_no"]  # type: ignore[index]
    person = ok("settle", "resolve", "--keys", str(d / "k"), "--registry", str(d / "p.db"),
                "--now", str(NOW + 30), str(handle))
    assert {k: person[k] for k in ("psn_cert_type", "certno", "psn_name", "insuplc_admdvs",
                                   "insutype")} == {
        "psn_cert_type": "08", "certno": "E12345678", "psn_name": "John Smith",
        "insuplc_admdvs": "310115", "insutype": "391"}
    refused("handle_expired", "settle", "resolve", "--keys", str(d / "k"), "--registry",
            str(d / "p.db"), "--now", str(NOW + 60 + 901), str(handle))
    forged = str(handle)[:20] + ("A" if str(handle)[20] != "A" else "B") + str(handle)[21:]
    proc = ecert("settle", "resolve", "--keys", str(d / "k"), "--registry", str(d / "p.db"),
                 "--now", str(NOW + 30), forged)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"] in ("handle_invalid", "person_not_registered")


def _persons(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT credential_id FROM settlement_persons")]


def test_activate_that_fails_writes_nothing(world: Path) -> None:
    d = world
    common = ("activate", "--keys", str(d / "k"), "--registry", str(d / "p.db"), "--device",
              str(d / "phone"), "--cert-id", "NEWPERSON01", "--region", "310115",
              "--out", str(d / "x.json"))
    refused("invalid_argument", *common, "--psn-cert-type", "01", "--certno",
            "110105194912310021", "--name", "张三")  # wrong check character
    refused("invalid_argument", *common, "--psn-cert-type", "08", "--name", "A B", status=2)
    # The person is registered first; the activation then fails: the row is taken back.
    refused("invalid_argument", *common, "--psn-cert-type", "08", "--certno", "E7654321",
            "--name", "Ann Lee", "--valid-days", "999")
    assert not (d / "x.json").exists()
    assert _persons(d / "p.db") == [CID]


def test_two_scans_and_a_mismatch(world: Path) -> None:
    d = world
    request = ok("pay", "request", "--amount", "2350", "--payee", PAYEE, "--order", "RX-1",
                 "--terminal-id", "T3101150001", "--now", str(NOW))
    tx = str(request["transaction"])
    assert tx.startswith("ET1:")
    p = ok("present", "--credential", str(d / "cred.json"), "--device", str(d / "phone"),
           "--business", "02121", "--transaction", tx, "--now", str(NOW + 5), "--json")
    assert int(str(p["characters"])) <= 520  # measured in docs/settlement.md
    assert p["confirmed"] == {"form": "exact", "amount_fen": 2350, "payee": PAYEE,
                              "order_id": "RX-1", "terminal_id": "T3101150001", "time": NOW}
    text = str(p["presentation"])
    base = ("--keys", str(d / "k"), "--business", "02121", "--now", str(NOW + 8))
    v = ok("verify", *base, "--transaction", tx, text)
    assert v["payment"] == {"form": "exact", "device_id": v["payment"]["device_id"],  # type: ignore[index]
                            "device_counter": p["device_counter"], "ceiling_fen": None,
                            "checked": True}
    assert v["settlement"]["mdtrt_cert_no"] is not None  # type: ignore[index]
    refused("transaction_mismatch", "verify", *base, "--amount", "2351", "--payee", PAYEE,
            "--order", "RX-1", text)
    other = ok("pay", "request", "--amount", "2350", "--payee", PAYEE, "--order", "RX-1",
               "--terminal-id", "T3101150002", "--now", str(NOW))["transaction"]
    refused("transaction_mismatch", "verify", *base, "--transaction", str(other), text)
    plain = ecert("present", "--credential", str(d / "cred.json"), "--device", str(d / "phone"),
                  "--business", "02121", "--now", str(NOW + 5)).stdout.strip()
    refused("confirmation_missing", "verify", *base, "--transaction", tx, plain)
    refused("invalid_argument", "verify", *base, "--amount", "5", plain, status=2)
    # A platform code has no device binding: confirmed online, said so, not claimed checked.
    code = ecert("mint", "--keys", str(d / "k"), "--cert-id", CID, "--region", "310115",
                 "--insutype", "391", "--business", "02121", "--now", str(NOW)).stdout.strip()
    online = ok("verify", *base, "--amount", "2350", "--payee", PAYEE, "--order", "RX-1", code)
    assert online["payment"] == {"checked": False, "confirmation": "online"}
    refused("invalid_argument", "present", "--credential", str(d / "cred.json"), "--device",
            str(d / "phone"), "--business", "01101", "--amount", "1", "--payee", PAYEE,
            "--order", "X", status=2)


def test_ceiling_at_two_offline_tills_found_at_settlement(world: Path) -> None:
    d = world
    before = json.loads((d / "phone" / "device.counter.json").read_text())["counter"]
    p = ok("present", "--credential", str(d / "cred.json"), "--device", str(d / "phone"),
           "--business", "02121", "--ceiling", "5000", "--payee", PAYEE, "--now", str(NOW),
           "--json")
    assert p["device_counter"] == before + 1
    text = str(p["presentation"])
    for name in ("till1", "till2"):  # two tills, each with its own replay store
        ok("replay", "init", "--replay-db", str(d / f"replay-{name}.db"), "--now",
           str(NOW - 3600))
    for i, name in enumerate(("till1", "till2")):
        ok("voucher", "issue", "--keys", str(d / "k"), "--business", "02121", "--now",
           str(NOW + 3), "--replay-db", str(d / f"replay-{name}.db"), "--terminal",
           str(d / name), "--amount", "4800", "--order", f"RX-{i}", "--out",
           str(d / f"{name}.cose"), text)
        refused("replayed", "voucher", "issue", "--keys", str(d / "k"), "--business", "02121",
                "--now", str(NOW + 4), "--replay-db", str(d / f"replay-{name}.db"),
                "--terminal", str(d / name), "--amount", "4800", "--order", f"RX-{i}",
                "--out", str(d / "again.cose"), text)
        ok("receipts", "record", "--keys", str(d / "k"), "--business", "02121", "--now",
           str(NOW + 3), "--terminal", str(d / name), "--log", str(d / f"{name}.log"),
           "--amount", "4800", text)
    mismatch = ecert("receipts", "record", "--keys", str(d / "k"), "--business", "02121",
                     "--now", str(NOW + 3), "--terminal", str(d / "till1"), "--log",
                     str(d / "refusals.log"), "--amount", "5001", "--order", "RX-9", text)
    assert mismatch.returncode == 1
    assert json.loads(mismatch.stdout)["outcome"] == "transaction_mismatch"
    refused("transaction_mismatch", "voucher", "issue", "--keys", str(d / "k"), "--business",
            "02121", "--now", str(NOW + 3), "--terminal", str(d / "till1"), "--amount", "5001",
            "--order", "RX-9", "--out", str(d / "no.cose"), text)
    (d / "both.cbor").write_bytes((d / "till1.log").read_bytes() + (d / "till2.log").read_bytes())
    trusted = ("--terminal-pub", str(d / "till1"), "--terminal-pub", str(d / "till2"))
    batch = ok("receipts", "verify", *trusted, str(d / "both.cbor"))
    assert batch["double_uses"][0]["terminals"] == ["T3101150001", "T3101150002"]  # type: ignore[index]
    assert batch["counter_reuses"][0]["device_counter"] == before + 1  # type: ignore[index]
    sub = ok("voucher", "submit", "--ledger", str(d / "p.db"), *trusted, "--now",
             str(NOW + 86_400), str(d / "till1.cose"))
    refused("voucher_duplicate", "voucher", "submit", "--ledger", str(d / "p.db"), *trusted,
            "--now", str(NOW + 86_400), str(d / "till2.cose"))
    settled = ok("voucher", "settle", "--ledger", str(d / "p.db"), "--keys", str(d / "k"),
                 "--registry", str(d / "p.db"), *trusted, "--now", str(NOW + 2 * 86_400),
                 str(sub["token_digest"]))
    assert settled["person"]["psn_name"] == "John Smith"  # type: ignore[index]
    assert settled["voucher"]["device_counter"] == before + 1  # type: ignore[index]


def test_demo_shows_an_offline_holder_payment_from_scan_to_settlement() -> None:
    proc = ecert("demo", "--no-qr")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for shown in ("12. Offline payment with the phone", "ET1:", "code=transaction_mismatch",
                  "(34 chars)", "psn_cert_type 08", "13. The platform is down",
                  "one device counter at 2 tills", "code=voucher_duplicate",
                  "48.00 yuan to reimburse to J* S*"):
        assert shown in out, shown
    assert "John Smith" not in out and "E12345678" not in out  # masked in the demo
    steps = json.loads(ecert("demo", "--json").stdout)["steps"]
    last = steps[-1]
    assert last["step"].startswith("13.") and last["rejected"]["error"] == "voucher_duplicate"
