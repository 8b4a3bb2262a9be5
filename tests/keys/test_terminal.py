"""Terminal keys: their binding, their files, and their place in the signed trust list."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ecert_token import EcertError, ErrorCode
from ecert_token.codec import cbor
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.terminal import (
    TerminalKey,
    load_terminal,
    load_terminal_public,
    new_terminal_key,
    save_terminal,
)
from ecert_token.trust import RootSigningKey, build_trust_list, sign_trust_list, verify_trust_list
from ecert_token.trust.listing import decode_payload, encode_payload
from tests.conftest import NOW, deterministic_random

TILL = new_terminal_key("T3101150001", "P31011500017", deterministic_random(b"till"))


def test_files_round_trip(tmp_path: Path) -> None:
    save_terminal(TILL, tmp_path / "till")
    assert stat.S_IMODE((tmp_path / "till" / "terminal.key.pem").stat().st_mode) == 0o600
    loaded = load_terminal(tmp_path / "till")
    assert loaded.public == TILL.public and loaded.kid == TILL.kid
    assert load_terminal_public(tmp_path / "till") == TILL.public
    assert "PRIVATE" not in (tmp_path / "till" / "terminal.pub.json").read_text()


@pytest.mark.parametrize("bad", [{}, {"format": "ecert-terminal/1"}, [],
                                 {**TILL.public.to_json(), "kid": "00000000"},
                                 {**TILL.public.to_json(), "terminal_id": "lower"},
                                 {**TILL.public.to_json(), "public_key": "00" * 32}])
def test_bad_public_files(bad: object) -> None:
    with pytest.raises(EcertError) as info:
        TerminalKey.from_json(bad)
    assert info.value.code in {ErrorCode.KEY_FILE, ErrorCode.WEAK_KEY}


def test_terminals_in_the_trust_list(keys: KeyDir) -> None:
    root = RootSigningKey.generate(deterministic_random(b"root"))
    kiosk = new_terminal_key("T3101150002", "H31011500001", deterministic_random(b"kiosk"))
    listed = build_trust_list(3, NOW, NOW + 86_400, [keys.signing_key.public], keys.group_ring,
                              terminal_keys=[TILL.public, kiosk.public])
    verified = verify_trust_list(sign_trust_list(listed, root), root.root, NOW)
    assert verified.terminal_keys == (TILL.public, kiosk.public)
    # Without terminals the payload has no key 7: the bytes of a list made before them.
    plain = build_trust_list(3, NOW, NOW + 86_400, [keys.signing_key.public], keys.group_ring)
    assert 7 not in cbor.loads(encode_payload(plain), max_depth=4)  # type: ignore[operator]
    assert decode_payload(encode_payload(plain)).terminal_keys == ()


@pytest.mark.parametrize("terminals", [[], "x", [{}], [{1: "T1", 2: {}, 3: "primary", 7: "P"}]])
def test_bad_terminal_entries_are_refused(keys: KeyDir, terminals: object) -> None:
    payload = cbor.loads(encode_payload(build_trust_list(
        1, NOW, NOW + 60, [keys.signing_key.public])), max_depth=4)
    assert isinstance(payload, dict)
    payload[7] = terminals
    with pytest.raises(EcertError) as info:
        decode_payload(cbor.dumps(payload))
    assert info.value.code is ErrorCode.TRUST_LIST_INVALID
