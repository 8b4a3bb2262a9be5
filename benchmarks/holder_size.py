"""Presentation size: what each field costs, and the QR version of each variant.

    python benchmarks/holder_size.py [--json FILE]

Deterministic (fixed keys, time and random bytes).  "bytes" are CBOR/COSE
bytes; Base45 turns 2 bytes into 3 characters, so a field of n bytes costs
about 1.5 n characters.  The QR version is the smallest at level M (segno,
the ``qr`` extra): 12-M holds 419 alphanumeric characters, 13-M 483, 14-M
535, 15-M 600.  The rows marked "estimate" are encodings of alternatives this
library does not ship (built here with dummy bytes of the right sizes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ecert_token.codec import cbor
from ecert_token.codec.base45 import b45decode
from ecert_token.holder.claims import encode_claims
from ecert_token.holder.credential import sign_credential
from ecert_token.holder.device import new_device_key
from ecert_token.holder.presentation import present
from ecert_token.holder.verify import PresentationVerifier
from ecert_token.keys import keydir
from ecert_token.model import BusinessType, Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token_tools.vectors import seeded_random as seeded

NOW = 1_790_000_000
BT = BusinessType.HOSPITAL_REGISTRATION


def chars(n_bytes: int) -> int:
    """Base45 characters of ``n_bytes`` bytes, plus the 4-character prefix."""
    return 4 + n_bytes // 2 * 3 + (n_bytes % 2) * 2


def qr_m(text_chars: int) -> int | None:
    try:
        from ecert_token.qr import qr_version
    except ImportError:  # pragma: no cover - without the qr extra
        return None
    return qr_version("EP1:" + "0" * (text_chars - 4), "M")


def measure() -> dict[str, object]:
    keys = keydir.generate(random_bytes=seeded(b"holder-size keys"))
    tmp = Path(tempfile.mkdtemp())
    rnd = seeded(b"holder-size")
    phone = new_device_key(rnd)
    texts: dict[str, str] = {}
    for mode in ("open", "sealed"):
        platform = HolderPlatform(ActivationRegistry(tmp / f"{mode}.db"), keys.signing_key,
                                  keys.group_key if mode == "sealed" else None,
                                  random_bytes=rnd)
        issued = platform.activate(Activation(
            "E4Q7ZK2M9PXA", phone.public_key.raw, Region("110105"),
            InsuranceType.EMPLOYEE_BASIC, "张*丰", Channel.WECHAT), now=NOW - 3600)
        texts[f"{mode}: credential, registration 01101"] = present(
            issued.file.sealed, phone, BT, now=NOW, random_bytes=rnd)
        texts[f"{mode}: with a terminal challenge (4 bytes)"] = present(
            issued.file.sealed, phone, BT, now=NOW, challenge=b"\x01\x02\x03\x04",
            random_bytes=rnd)
        member = platform.add_family_member("E4Q7ZK2M9PXA", Activation(
            "M7K2Q9ZX4PEA", bytes(32), Region("110105"), InsuranceType.RESIDENT_BASIC, "李*",
            Channel.WECHAT), now=NOW - 3000)
        texts[f"{mode}: family member's code (delegation)"] = present(
            member.file.sealed, phone, BT, now=NOW, random_bytes=rnd)
        if mode == "open":
            long = platform.activate(Activation(
                "Z" * 32, phone.public_key.raw, Region("110105"), InsuranceType.EMPLOYEE_BASIC,
                "*" * 16, Channel.WECHAT), now=NOW - 3600)
            texts["open: 32-character id, 16-character masked name"] = present(
                long.file.sealed, phone, BT, now=NOW, random_bytes=rnd)
            checker = PresentationVerifier(keys.trust_store())
            claims = checker._credential(issued.file.sealed).claims
    variants = {name: {"chars": len(t), "bytes": len(b45decode(t[4:])), "qr_m": qr_m(len(t))}
                for name, t in texts.items()}

    # What each part of the open presentation costs (bytes), from the actual encodings.
    claims_map = cbor.loads(encode_claims(claims), max_depth=4)
    assert isinstance(claims_map, dict)
    parts: dict[str, int] = {}
    for key, name in ((2, "sub: credential id (12 characters)"), (4, "exp"), (6, "iat"),
                      (8, "cnf: COSE_Key of the device key"),
                      (65535, "status: {status_list: {idx, uri}} (draft shape)"),
                      (-65538, "holder fields [region, insutype, channel, name, kind]")):
        parts["credential " + name] = len(cbor.dumps({key: claims_map[key]})) - 1
    signed = sign_credential(claims, keys.signing_key)
    parts["credential COSE_Sign1 framing (tag, headers {1,4}, bstr heads)"] = (
        len(signed) - len(encode_claims(claims)) - 64)
    parts["issuer signature"] = 64
    parts["sealing (sealed mode only): COSE_Encrypt0 framing, 13-byte IV, 8-byte tag"] = (
        variants["sealed: credential, registration 01101"]["bytes"]  # type: ignore[operator]
        - variants["open: credential, registration 01101"]["bytes"])
    payload = {4: NOW + 60, 6: NOW, 7: bytes(8), -65540: 1101}
    for key, name in ((4, "exp"), (6, "iat"), (7, "cti: 8-byte random id"),
                      (-65540, "business type")):
        parts["presentation " + name] = len(cbor.dumps({key: payload[key]})) - 1
    parts["presentation COSE_Sign1 framing (tag, {1: -8, 13: ...}, bstr heads)"] = (
        variants["open: credential, registration 01101"]["bytes"]  # type: ignore[operator]
        - len(signed) - len(cbor.dumps(payload)) - 64)
    parts["device signature"] = 64

    # Alternatives (estimates): the compact status reference, and HPKE per presentation.
    compact = len(cbor.dumps({-65541: claims.status.idx}))
    draft = len(cbor.dumps({65535: claims_map[65535]}))
    open_bytes = variants["open: credential, registration 01101"]["bytes"]
    assert isinstance(open_bytes, int)
    hpke_envelope = cbor.dumps([cbor.dumps({1: 35, 4: bytes(4)}), {-4: bytes(32)},
                                bytes(open_bytes + 16)])
    hpke = len(hpke_envelope) + 1  # + tag
    no_alg = len(cbor.dumps({1: -8})) - 1  # {1: -8, 13: ...} -> {13: ...}
    raw_cnf = (len(cbor.dumps({8: claims_map[8]}))
               - len(cbor.dumps({-65542: bytes(32)})))  # a private claim holding the key
    short_id = 2  # a 6-byte presentation id instead of 8
    departures = open_bytes - draft + compact - 6
    estimates = {
        "open, status as a private claim {-65541: idx} instead of the draft shape (estimate)":
            open_bytes - draft + compact,
        "open, compact status, no presentation exp (fixed 60 s) (estimate)":
            departures,
        "open, compact status, no exp, no alg in the presentation header, the device key "
        "as a private claim instead of cnf (estimate)": departures - no_alg - raw_cnf,
        "as above and a 6-byte presentation id (estimate)":
            departures - no_alg - raw_cnf - short_id,
        "HPKE per presentation: COSE_Encrypt0 to a group X25519 key, 32-byte ek, "
        "16-byte tag, around the open presentation (estimate)": hpke,
    }
    est = {name: {"bytes": b, "chars": chars(b), "qr_m": qr_m(chars(b))}
           for name, b in estimates.items()}
    return {"variants": variants, "parts_bytes": parts, "alternatives": est}


def markdown(result: dict[str, object]) -> str:
    lines = ["| presentation | characters | bytes | QR version (M) |", "|---|---|---|---|"]
    for table in ("variants", "alternatives"):
        rows = result[table]
        assert isinstance(rows, dict)
        for name, r in rows.items():
            lines.append(f"| {name} | {r['chars']} | {r['bytes']} | {r['qr_m']} |")
    lines += ["", "| part (open presentation) | bytes | ~characters |", "|---|---|---|"]
    parts = result["parts_bytes"]
    assert isinstance(parts, dict)
    for name, b in parts.items():
        lines.append(f"| {name} | {b} | {b * 3 / 2:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = measure()
    print(markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
