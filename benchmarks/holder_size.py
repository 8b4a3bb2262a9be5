"""Presentation size: what each field costs, and the QR version of each variant.

    python benchmarks/holder_size.py [--json FILE]

Deterministic (fixed keys, time and random bytes, including the registry's random status
indices).  "bytes" are CBOR/COSE bytes; Base45 turns 2 bytes into 3 characters, so a
field of n bytes costs about 1.5 n characters.  The QR version is the smallest at level
M (segno, the ``qr`` extra): 12-M holds 419 alphanumeric characters, 13-M 483, 14-M 535,
15-M 600.  The rows marked "estimate" are encodings of alternatives this library does
not ship (built here with dummy bytes of the right sizes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ecert_token.codec import cbor
from ecert_token.codec.base45 import b45decode
from ecert_token.holder.claims import HolderClaims, StatusRef, encode_claims
from ecert_token.holder.credential import issue, sign_credential
from ecert_token.holder.device import DeviceKey, new_device_key
from ecert_token.holder.payment import Ceiling, Charge
from ecert_token.holder.presentation import present
from ecert_token.holder.verify import PresentationVerifier
from ecert_token.keys import keydir
from ecert_token.keys.suite import Suite
from ecert_token.model import BusinessType, Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token_tools.vectors import seeded_random as seeded

NOW = 1_790_000_000
BT = BusinessType.HOSPITAL_REGISTRATION
PHARMACY = BusinessType.PHARMACY_PURCHASE
LIMIT = 483
"""QR version 13 at level M: the acceptable size of issue #13 (the goal, 12-M, is 419)."""
SCALES = {"2^16 list (default)": 16, "province (25 million, 2^26 list)": 26,
          "10^9 (one national 2^31 list)": 31}
"""Status-list sizes: the registry draws an index uniformly below the list size (a power
of two at least twice the credentials), so the index is a draw below 2**bits."""


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
        registry = ActivationRegistry(tmp / f"{mode}.db",
                                      random_bytes=seeded(b"holder-size indices " + mode.encode()))
        platform = HolderPlatform(registry, keys.signing_key,
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
                      (-65538, "holder fields [region, insutype, channel, name, kind, status "
                               "index]")):
        parts["credential " + name] = len(cbor.dumps({key: claims_map[key]})) - 1
    holder_array = claims_map[-65538]
    parts["of which the status index (compact reference; 5 bytes from 65,536)"] = len(
        cbor.dumps(holder_array[5]))
    parts["version 1 instead: status claim {status_list: {idx, uri}} (draft shape, "
          "\"ec:NHSA\")"] = len(cbor.dumps(
              {65535: {"status_list": {"idx": holder_array[5], "uri": "ec:NHSA"}}})) - 1
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
    parts["presentation COSE_Sign1 framing (tag, {13: ...}, bstr heads)"] = (
        variants["open: credential, registration 01101"]["bytes"]  # type: ignore[operator]
        - len(signed) - len(cbor.dumps(payload)) - 64)
    parts["device signature"] = 64

    # Alternatives (estimates): further departures, and HPKE per presentation.
    open_bytes = variants["open: credential, registration 01101"]["bytes"]
    assert isinstance(open_bytes, int)
    hpke_envelope = cbor.dumps([cbor.dumps({1: 35, 4: bytes(4)}), {-4: bytes(32)},
                                bytes(open_bytes + 16)])
    hpke = len(hpke_envelope) + 1  # + tag
    raw_cnf = (len(cbor.dumps({8: claims_map[8]}))
               - len(cbor.dumps({-65542: bytes(32)})))  # a private claim holding the key
    short_id = 2  # a 6-byte presentation id instead of 8
    departures = open_bytes - 6
    estimates = {
        "open, no presentation exp (fixed 60 s) (estimate)": departures,
        "open, no exp, the device key as a private claim instead of cnf (estimate)":
            departures - raw_cnf,
        "as above and a 6-byte presentation id (estimate)": departures - raw_cnf - short_id,
        "HPKE per presentation: COSE_Encrypt0 to a group X25519 key, 32-byte ek, "
        "16-byte tag, around the open presentation (estimate)": hpke,
    }
    est = {name: {"bytes": b, "chars": chars(b), "qr_m": qr_m(chars(b))}
           for name, b in estimates.items()}
    return {"variants": variants, "parts_bytes": parts, "alternatives": est,
            "scale": scale()}


def scale() -> dict[str, dict[str, object]]:
    """Every kind (suites, payment bindings, credential version) at every list scale.

    The reference person (12-character id, 张*丰, open credential), the handle tag in
    the id, a payment at a pharmacy (two scans: the till's transaction; one scan: a
    500-yuan ceiling), device counter 1,000.  Each scale's index is a seeded draw
    below its list size, as the registry draws it.
    """
    rows: dict[str, dict[str, object]] = {}
    pick = seeded(b"holder-size scale indices")
    indices = {name: int.from_bytes(pick(4), "big") % (1 << bits)
               for name, bits in SCALES.items()}
    till = Charge(2_350, "P11010500017", "RX-20260921-0001", "T1101050001", NOW - 20)
    ceiling = Ceiling(50_000, "P11010500017")
    handle_key = seeded(b"holder-size handle key")(32)
    for issuer_suite, device_suite in ((Suite.ED25519, Suite.ED25519),
                                       (Suite.ED25519, Suite.SM), (Suite.SM, Suite.SM),
                                       (Suite.SM, Suite.ED25519)):
        keys = keydir.generate(suite=issuer_suite, random_bytes=seeded(b"holder-size keys"))
        phone = DeviceKey.generate(device_suite, seeded(b"holder-size phone"))
        suites = f"{issuer_suite.value} issuer, {device_suite.value} device"
        for scale_name, idx in indices.items():
            for version, uri in (("now", None), ("before", "ec:NHSA")):
                before = uri is not None  # version-1 credential, alg named in the header
                claims = HolderClaims("E4Q7ZK2M9PXA", NOW - 3600, NOW + 30 * 86_400,
                                      phone.public_key, StatusRef(uri, idx), Region("110105"),
                                      InsuranceType.EMPLOYEE_BASIC, Channel.WECHAT, "张*丰")
                blob = issue(claims, keys.signing_key)
                kinds = {
                    "no binding": present(blob, phone, BT, now=NOW, random_bytes=seeded(b"p"),
                                          handle_key=handle_key, name_alg=before),
                    "two scans (exact binding)": present(
                        blob, phone, PHARMACY, now=NOW, random_bytes=seeded(b"p"),
                        handle_key=handle_key, payment=till, counter=1_000, name_alg=before),
                    "one scan (ceiling binding)": present(
                        blob, phone, PHARMACY, now=NOW, random_bytes=seeded(b"p"),
                        handle_key=handle_key, payment=ceiling, counter=1_000, name_alg=before),
                }
                for kind, text in kinds.items():
                    rows[f"{version} | {suites} | {kind} | {scale_name}"] = {
                        "chars": len(text), "bytes": len(b45decode(text[4:])),
                        "qr_m": qr_m(len(text)), "within_483": len(text) <= LIMIT,
                        "status_index": idx}
    return rows


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
    # Every kind: characters (QR version at M) per list scale, now and before.
    table = result["scale"]
    assert isinstance(table, dict)
    scales = list(SCALES)
    lines += ["", "| suites | binding | " + " | ".join(f"now, {n}" for n in scales)
              + f" | before, {scales[1]} |", "|---|---|" + "---:|" * (len(scales) + 1)]
    kinds = dict.fromkeys(tuple(name.split(" | ")[1:3]) for name in table)
    for suites, binding in kinds:
        cells = [table[f"now | {suites} | {binding} | {n}"] for n in scales]
        cells.append(table[f"before | {suites} | {binding} | {scales[1]}"])
        lines.append(f"| {suites} | {binding} | " + " | ".join(
            f"{c['chars']} ({c['qr_m']}){'' if c['within_483'] else ' **over**'}"
            for c in cells) + " |")
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
