"""``ecert person add``, ``ecert mint``, ``ecert verify`` (its ``"settlement"``) and
``ecert settle resolve``: one real-process run from registration to identity, and
every code-table value through mint and verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecert_token import InsuranceType, SubjectKind
from ecert_token.cli.main import main
from tests.cli.test_cli import ecert

NOW = 1_790_000_000


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keys") / "k"
    assert ecert("keygen", "--out", str(out)).returncode == 0
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.lstrip().startswith("{") else {"text": out.strip()})


def test_register_mint_verify_resolve_in_real_processes(keydir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "platform.db")
    added = ecert("person", "add", "--registry", db, "--cert-id", "FRGN7Q2K9M",
                  "--psn-cert-type", "08", "--certno", "E12345678", "--name", "John Smith",
                  "--region", "310115", "--insutype", "391")
    assert added.returncode == 0, added.stdout + added.stderr
    assert "E12345678" not in added.stdout and "John" not in added.stdout
    token = ecert("mint", "--keys", str(keydir), "--cert-id", "FRGN7Q2K9M", "--region",
                  "310115", "--insutype", "391", "--business", "02121", "--name", "John Smith",
                  "--now", str(NOW)).stdout.strip()
    verified = ecert("verify", "--keys", str(keydir), "--business", "02121", "--now",
                     str(NOW + 5), token)
    assert verified.returncode == 0, verified.stdout
    fields = json.loads(verified.stdout)
    assert fields["masked_name"] == "J* S*"
    settlement = fields["settlement"]
    assert settlement["mdtrt_cert_type"] == "01" and settlement["insutype"] == "391"
    handle = settlement["mdtrt_cert_no"]
    assert len(handle) == 40
    resolved = ecert("settle", "resolve", "--keys", str(keydir), "--registry", db,
                     "--now", str(NOW + 70), handle)
    assert resolved.returncode == 0, resolved.stdout
    assert {k: json.loads(resolved.stdout)[k] for k in (
        "psn_cert_type", "certno", "psn_name", "insuplc_admdvs", "insutype")} == {
        "psn_cert_type": "08", "certno": "E12345678", "psn_name": "John Smith",
        "insuplc_admdvs": "310115", "insutype": "391"}
    late = ecert("settle", "resolve", "--keys", str(keydir), "--registry", db,
                 "--now", str(NOW + 60 + 901), handle)
    assert late.returncode == 1
    assert json.loads(late.stdout)["error"] == "handle_expired"
    altered = handle[:10] + ("A" if handle[10] != "A" else "B") + handle[11:]
    bad = ecert("settle", "resolve", "--keys", str(keydir), "--registry", db,
                "--now", str(NOW + 70), altered)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["error"] == "handle_invalid"
    assert "E12345678" not in bad.stdout and handle not in bad.stdout


@pytest.mark.parametrize("insutype", [i.value for i in InsuranceType])
def test_every_insurance_type_mints_and_verifies(
    capsys: pytest.CaptureFixture[str], keydir: Path, insutype: str
) -> None:
    code, out = run(capsys, "mint", "--keys", str(keydir), "--cert-id", "E4Q7ZK2M9PXA",
                    "--region", "619900", "--insutype", insutype, "--business", "01301",
                    "--now", str(NOW))
    assert code == 0
    code, fields = run(capsys, "verify", "--keys", str(keydir), "--business", "01301",
                       "--now", str(NOW), str(out["text"]))
    assert code == 0
    assert fields["insurance_type"] == insutype
    assert fields["settlement"] == {  # type: ignore[comparison-overlap]
        **fields["settlement"],  # type: ignore[dict-item]
        "insutype": insutype, "insuplc_admdvs": "619900", "business_type": "01301"}


@pytest.mark.parametrize("kind", [k.value for k in SubjectKind])
def test_every_subject_kind_mints_and_verifies(
    capsys: pytest.CaptureFixture[str], keydir: Path, kind: str
) -> None:
    code, out = run(capsys, "mint", "--keys", str(keydir), "--cert-id", "UNIT000001",
                    "--region", "110105", "--subject-kind", kind, "--business", "01101",
                    "--now", str(NOW))
    assert code == 0
    code, fields = run(capsys, "verify", "--keys", str(keydir), "--business", "01101",
                       "--now", str(NOW), str(out["text"]))
    assert (code, fields["subject_kind"]) == (0, kind)
    assert fields["settlement"]["mdtrt_cert_type"] == "01"  # type: ignore[index]
    code, out = run(capsys, "mint", "--keys", str(keydir), "--cert-id", "UNIT000001",
                    "--region", "110105", "--subject-kind", kind, "--business", "02121",
                    "--now", str(NOW))
    if kind == "1":
        assert code == 0
    else:
        assert (code, out["error"]) == (1, "wrong_business_type")


def test_unknown_insurance_type_lists_the_valid_codes(
    capsys: pytest.CaptureFixture[str], keydir: Path
) -> None:
    # An unknown code is a usage error (exit 2, docs/cli.md) whose message lists the codes.
    with pytest.raises(SystemExit) as exit_info:
        main(["mint", "--keys", str(keydir), "--cert-id", "E4Q7ZK2M9PXA",
              "--region", "110105", "--insutype", "311", "--business", "01101"])
    out = json.loads(capsys.readouterr().out)
    assert (exit_info.value.code, out["error"]) == (2, "invalid_argument")
    message = str(out["message"])
    for code in ("310", "320", "330", "340", "350", "360", "370", "380", "390", "391", "392",
                 "399", "410", "510"):
        assert f"{code} (" in message


def test_bad_person_and_malformed_handle(
    capsys: pytest.CaptureFixture[str], keydir: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "p.db")
    code, out = run(capsys, "person", "add", "--registry", db, "--cert-id", "E4Q7ZK2M9PXA",
                    "--psn-cert-type", "01", "--certno", "110105194912310021", "--name", "张三",
                    "--region", "110105")
    assert (code, out["error"]) == (1, "invalid_argument")
    assert "110105194912310021" not in str(out)
    code, out = run(capsys, "settle", "resolve", "--keys", str(keydir), "--registry", db,
                    "not-a-handle")
    assert (code, out["error"]) == (1, "handle_malformed")



def test_demo_shows_a_pharmacy_payment_from_scan_to_settlement() -> None:
    proc = ecert("demo", "--no-qr")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for shown in ("A pharmacy payment (02121)", "mdtrt_cert_type 01", "SETTLED",
                  "verifies at the platform", "code=voucher_duplicate", "settled once"):
        assert shown in out
    assert "11010519491231002X" not in out and "张三丰" not in out  # masked in the demo


def test_online_confirmation_approve_then_charge(
    capsys: pytest.CaptureFixture[str], keydir: Path, tmp_path: Path
) -> None:
    token = run(capsys, "mint", "--keys", str(keydir), "--cert-id", "E4Q7ZK2M9PXA", "--region",
                "110105", "--business", "02121", "--now", str(NOW))[1]["text"]
    fields = run(capsys, "verify", "--keys", str(keydir), "--business", "02121", "--now",
                 str(NOW), str(token))[1]
    handle = str(fields["settlement"]["mdtrt_cert_no"])  # type: ignore[index]
    db = str(tmp_path / "platform.db")
    tx = ("--db", db, "--handle", handle, "--payee", "P31011500017", "--order", "RX-1",
          "--terminal-id", "T3101150001", "--now", str(NOW + 5))
    code, out = run(capsys, "settle", "charge", *tx, "--amount", "12800")
    assert (code, out["error"]) == (1, "confirmation_missing")
    assert run(capsys, "settle", "approve", *tx, "--amount", "12800")[0] == 0
    code, out = run(capsys, "settle", "charge", *tx, "--amount", "12801")
    assert (code, out["error"]) == (1, "transaction_mismatch")
    code, out = run(capsys, "settle", "charge", *tx, "--amount", "12800")
    assert (code, out["settled"], out["amount_fen"]) == (0, True, 12800)
    code, out = run(capsys, "settle", "charge", *tx, "--amount", "12800")
    assert (code, out["error"]) == (1, "already_settled")
