"""Token length and QR version of typical tokens: the figures in the README.

Deterministic (fixed keys, time and random bytes), so anyone who reruns it gets
the same table:  python benchmarks/token_size.py [--suite sm] [--json FILE]
QR versions need the ``qr`` extra (segno); ``--suite sm`` (SM2/SM3 + SM4-CCM
keys) needs the ``gm`` extra.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    FamilyAccount,
    InsuranceType,
    Issuer,
    Region,
)
from ecert_token.codec.base45 import b45decode
from ecert_token.keys import keydir
from ecert_token.keys.suite import Suite
from ecert_token.token.text import PREFIX
from ecert_token_tools.vectors import seeded_random

NOW = 1_790_000_000
LEVELS = ("L", "M", "Q", "H")


@dataclass(frozen=True)
class Row:
    case: str
    characters: int
    envelope_bytes: int
    versions: dict[str, int]


def _credential(cid: str, name: str, region: str = "110105") -> Credential:
    return Credential(cid, Region(region), InsuranceType.EMPLOYEE_BASIC, name, Channel.WECHAT,
                      NOW - 86_400)


def measure(suite: str = "ed25519") -> list[Row]:
    from ecert_token.qr import qr_version

    keys = keydir.generate(random_bytes=seeded_random(b"token-size keys"),
                           suite=Suite.parse(suite))
    issuer = Issuer(keys.signing_key, keys.group_key, random_bytes=seeded_random(b"nonces"))
    holder = _credential("E4Q7ZK2M9PXA", "张*丰")
    member = _credential("K8D2WQ5T7RNB", "张*")
    longest = _credential("Z" * 32, "*" * 16)
    cases = {
        "typical: 12-character id, name 张*丰, registration 01101": issuer.mint(
            holder, BusinessType.HOSPITAL_REGISTRATION, now=NOW),
        "payment: same person, pharmacy purchase 02121": issuer.mint(
            holder, BusinessType.PHARMACY_PURCHASE, now=NOW),
        "family member's code (member + holder as actor)": issuer.mint_for_member(
            FamilyAccount(holder, (member,)), member.credential_id,
            BusinessType.HOSPITAL_REGISTRATION, now=NOW),
        "long: 32-character ids, 16-character masked names, actor": issuer.mint(
            longest, BusinessType.HOSPITAL_REGISTRATION, now=NOW,
            actor=_credential("Y" * 32, "*" * 16)),
    }
    return [
        Row(case, len(text), len(b45decode(text[len(PREFIX):])),
            {level: qr_version(text, level) for level in LEVELS})
        for case, text in cases.items()
    ]


def markdown(rows: list[Row]) -> str:
    lines = ["| token | characters | bytes (COSE) | QR version L / **M** / Q / H |",
             "|---|---|---|---|"]
    for r in rows:
        v = r.versions
        lines.append(f"| {r.case} | {r.characters} | {r.envelope_bytes} | "
                     f"{v['L']} / **{v['M']}** / {v['Q']} / {v['H']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    parser.add_argument("--suite", choices=[s.value for s in Suite], default="ed25519",
                        help="cipher suite of the keys (default ed25519)")
    args = parser.parse_args()
    rows = measure(args.suite)
    print(markdown(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([r.__dict__ for r in rows], fh, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
