"""What settlement handles cost in token size: the same codes minted with random
8-byte token ids and with 12-byte settlement ids (salt + tag, see
docs/settlement.md).  Deterministic; rerun:  python benchmarks/settlement_size.py [--json FILE]
QR versions need the ``qr`` extra (segno).
"""

from __future__ import annotations

import argparse
import json

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    FamilyAccount,
    InsuranceType,
    Issuer,
    Region,
)
from ecert_token.keys import keydir
from ecert_token.settlement import settlement_token_ids
from ecert_token_tools.vectors import seeded_random

NOW = 1_790_000_000


def _credential(cid: str, name: str) -> Credential:
    return Credential(cid, Region("110105"), InsuranceType.EMPLOYEE_BASIC, name, Channel.WECHAT,
                      NOW - 86_400)


def measure() -> list[dict[str, object]]:
    from ecert_token.qr import qr_version

    keys = keydir.generate(random_bytes=seeded_random(b"settlement-size keys"))
    plain = Issuer(keys.signing_key, keys.group_key, random_bytes=seeded_random(b"nonces"))
    settling = Issuer(keys.signing_key, keys.group_key, random_bytes=seeded_random(b"nonces"),
                      token_ids=settlement_token_ids(keys.signing_key, seeded_random(b"salts")))
    holder = _credential("E4Q7ZK2M9PXA", "张*丰")
    member = _credential("K8D2WQ5T7RNB", "张*")
    longest = _credential("Z" * 32, "*" * 16)
    rows = []
    for case, mint in {
        "typical: 12-character id, pharmacy purchase 02121":
            lambda i: i.mint(holder, BusinessType.PHARMACY_PURCHASE, now=NOW),
        "family member's code (member + holder as actor)":
            lambda i: i.mint_for_member(FamilyAccount(holder, (member,)), member.credential_id,
                                        BusinessType.HOSPITAL_REGISTRATION, now=NOW),
        "long: 32-character id, 16-character name":
            lambda i: i.mint(longest, BusinessType.PHARMACY_PURCHASE, now=NOW),
    }.items():
        a, b = mint(plain), mint(settling)
        rows.append({"case": case, "random_id_chars": len(a), "settlement_id_chars": len(b),
                     "extra_chars": len(b) - len(a), "qr_version_m": [qr_version(a, "M"),
                                                                      qr_version(b, "M")]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    rows = measure()
    print("| code | random 8-byte id | settlement 12-byte id | extra | QR version (M) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for r in rows:
        versions = r["qr_version_m"]
        assert isinstance(versions, list)
        print(f"| {r['case']} | {r['random_id_chars']} | {r['settlement_id_chars']} "
              f"| +{r['extra_chars']} | {versions[0]} -> {versions[1]} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
