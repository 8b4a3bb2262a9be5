"""``ecert terminal|receipts|voucher`` in real processes: two offline terminals accept one
payment code, the platform finds it in their receipt batches, takes one voucher, refuses
the second, settles once; a forged batch and a terminal missing from the trust list refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import ecert

NOW = 1_790_000_000


def ok(*args: str) -> dict[str, object]:
    proc = ecert(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def refused(code: str, *args: str) -> None:
    proc = ecert(*args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["error"] == code


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("platform")
    ok("keygen", "--out", str(d / "k"))
    ok("person", "add", "--registry", str(d / "p.db"), "--cert-id", "E4Q7ZK2M9PXA",
       "--psn-cert-type", "01", "--certno", "11010519491231002X", "--name", "张三丰",
       "--region", "110105")
    for name, tid, inst in (("till", "T3101150001", "P31011500017"),
                            ("kiosk", "T3101150002", "P31011500025")):
        ok("terminal", "keygen", "--out", str(d / name), "--terminal-id", tid,
           "--institution", inst)
    return d


def test_offline_double_use_vouchers_and_trust_list(platform: Path) -> None:
    d = platform
    token = ecert("mint", "--keys", str(d / "k"), "--cert-id", "E4Q7ZK2M9PXA", "--region",
                  "110105", "--business", "02121", "--now", str(NOW)).stdout.strip()
    verify = ("--keys", str(d / "k"), "--business", "02121", "--now", str(NOW + 3))
    for name in ("till", "kiosk"):
        out = ok("receipts", "record", *verify, "--terminal", str(d / name), "--log",
                 str(d / f"{name}.log"), "--amount", "1280", token)
        assert out["outcome"] == "accepted"
        assert out["settlement"]["mdtrt_cert_type"] == "01"  # type: ignore[index]
    wrong = ecert("receipts", "record", "--keys", str(d / "k"), "--business", "01101",
                  "--now", str(NOW + 4), "--terminal", str(d / "till"), "--log",
                  str(d / "till.log"), token)
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["outcome"] == "wrong_business_type"
    ok("receipts", "export", "--terminal", str(d / "till"), "--log", str(d / "till.log"),
       "--format", "jsonl", "--out", str(d / "till.jsonl"))
    ok("receipts", "export", "--terminal", str(d / "kiosk"), "--log", str(d / "kiosk.log"),
       "--out", str(d / "kiosk.cbor"))
    assert len((d / "till.jsonl").read_text().splitlines()) == 2
    trusted = ("--terminal-pub", str(d / "till"), "--terminal-pub", str(d / "kiosk"))
    assert ok("receipts", "verify", *trusted, str(d / "till.jsonl"))["verified"] == 2
    (d / "both.cbor").write_bytes((d / "till.log").read_bytes() + (d / "kiosk.cbor").read_bytes())
    both = ok("receipts", "verify", *trusted, str(d / "both.cbor"))
    assert both["outcomes"] == {"accepted": 2, "wrong_business_type": 1}
    assert both["double_uses"][0]["terminals"] == ["T3101150001", "T3101150002"]  # type: ignore[index]
    forged = bytearray((d / "kiosk.cbor").read_bytes())
    forged[-1] ^= 1
    (d / "forged.cbor").write_bytes(bytes(forged))
    refused("receipt_bad_signature", "receipts", "verify", *trusted, str(d / "forged.cbor"))
    refused("unknown_terminal", "receipts", "verify", "--terminal-pub", str(d / "till"),
            str(d / "kiosk.cbor"))

    # Trust the terminals through the signed trust list instead of files.
    ok("trust", "keygen", "--out", str(d / "root"))
    ok("trust", "build", "--keys", str(d / "k"), "--terminal", str(d / "till"), "--terminal",
       str(d / "kiosk" / "terminal.pub.json"), "--sequence", "1", "--issued-at", str(NOW),
       "--out", str(d / "list.cbor"))
    ok("trust", "sign", str(d / "list.cbor"), "--root-key", str(d / "root" / "root.key.pem"),
       "--out", str(d / "list.cose"))
    by_list = ("--trust-list", str(d / "list.cose"), "--root", str(d / "root" / "root.pub.cose"),
               "--now", str(NOW + 10))
    assert ok("receipts", "verify", *by_list, str(d / "both.cbor"))["verified"] == 3

    # The platform was down: each terminal issued a voucher for the same code.
    for name in ("till", "kiosk"):
        ok("voucher", "issue", *verify, "--terminal", str(d / name), "--amount", "1280",
           "--order", "RX-1", "--out", str(d / f"{name}.voucher"), token)
    ledger = ("--ledger", str(d / "p.db"))
    submitted = ok("voucher", "submit", *ledger, *trusted, "--now", str(NOW + 86_400),
                   str(d / "till.voucher"))
    refused("voucher_duplicate", "voucher", "submit", *ledger, *by_list,
            str(d / "kiosk.voucher"))
    settle = ("voucher", "settle", *ledger, "--keys", str(d / "k"), "--registry",
              str(d / "p.db"), *trusted, "--now", str(NOW + 86_400))
    settled = ok(*settle, str(submitted["token_digest"]))
    assert settled["person"]["psn_name"] == "张三丰"  # type: ignore[index]
    assert settled["voucher"]["paid_in_full_fen"] == 1280  # type: ignore[index]
    refused("already_settled", *settle, str(submitted["token_digest"]))
    refused("wrong_business_type", "voucher", "issue", "--keys", str(d / "k"), "--business",
            "01101", "--now", str(NOW + 3), "--terminal", str(d / "till"), "--amount", "1",
            "--order", "X", "--out", str(d / "x.voucher"), token)


def test_a_device_id_typed_in_lower_case_is_kept_in_upper_case(platform: Path) -> None:
    """``voucher issue --device-id`` typed by hand: the voucher carries the one form the
    ledger compares (a device's id as receipts carry it: upper case)."""
    d = platform
    token = ecert("mint", "--keys", str(d / "k"), "--cert-id", "E4Q7ZK2M9PXA", "--region",
                  "110105", "--business", "02121", "--now", str(NOW)).stdout.strip()
    out = ok("voucher", "issue", "--keys", str(d / "k"), "--business", "02121", "--now",
             str(NOW + 3), "--terminal", str(d / "till"), "--amount", "500", "--order",
             "RX-9", "--device-id", "phone-7f3a", "--device-counter", "7",
             "--out", str(d / "typed.voucher"), token)
    assert out["voucher"]["device_id"] == "PHONE-7F3A"  # type: ignore[index]
