"""keys/files.py: a PEM that is not an Ed25519 PKCS#8 key is refused with ``KEY_FILE``.

The inputs come from ``tests/vectors/fuzz_findings/findings.json``: what the
key-import fuzz harness (``fuzz/fuzz_key_import.py``) found escaping as
another exception type.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecert_token.errors import ErrorCode, KeyMaterialError
from ecert_token.keys.files import ed25519_from_pem

FINDINGS = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "fuzz_findings" / "findings.json")
    .read_text("utf-8")
)["findings"]
PEM_FINDINGS = [f for f in FINDINGS if f["entry_point"] == "keys.files.ed25519_from_pem"]


@pytest.mark.parametrize("finding", PEM_FINDINGS, ids=[f["id"] for f in PEM_FINDINGS])
@pytest.mark.parametrize("passphrase", [None, b"fuzz passphrase"])
def test_fuzz_findings_are_key_file_errors(
    finding: dict[str, str], passphrase: bytes | None
) -> None:
    pem = bytes.fromhex(finding["input_hex"])[1:]  # byte 0 is the harness' entry-point choice
    with pytest.raises(KeyMaterialError) as info:
        ed25519_from_pem(pem, passphrase)
    assert info.value.code is ErrorCode.KEY_FILE

