"""Generate the settlement test vectors (tests/vectors/settlement/*.json).

    python -m tests.settlement.make_vectors [--out tests/vectors/settlement]

Everything comes from fixed seeds and a fixed time, so a rerun writes the same
bytes (tests/settlement/test_vectors.py checks that and every outcome).  TEST
KEYS ONLY: the files publish the private seeds so other implementations can
recompute every byte.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    ErrorCode,
    FixedClock,
    InsuranceType,
    Issuer,
    Region,
    TokenRejected,
)
from ecert_token.keys.keydir import generate
from ecert_token.keys.terminal import new_terminal_key
from ecert_token.model.settlement import credential_ref, parse_handle
from ecert_token.settlement import (
    Receipt,
    Transaction,
    Voucher,
    settlement_token_ids,
    sign_record,
)
from ecert_token.settlement.handles import HandleKey
from ecert_token.token import Verifier, VerifyPolicy
from tests.conftest import deterministic_random as seeded_random

OUT = Path(__file__).resolve().parents[1] / "vectors" / "settlement"
NOW = 1_790_000_000
FORMAT = "ecert-settlement-vectors/1"
WARNING = "TEST KEYS ONLY: published so anyone can recompute these bytes; never trust them."
PEOPLE = [("E4Q7ZK2M9PXA", "110105", InsuranceType.EMPLOYEE_BASIC),
          ("FRGN7Q2K9M", "310115", InsuranceType.URBAN_RESIDENT_BASIC),
          ("Z" * 32, "619900", InsuranceType.LONG_TERM_CARE)]


def _flip(handle: str, index: int) -> str:
    raw = bytearray(base64.b32decode(handle))
    raw[index] ^= 0x01
    return base64.b32encode(bytes(raw)).decode()


def build() -> dict[str, dict[str, object]]:
    """The documents, by file name."""
    keys = generate(random_bytes=seeded_random(b"settlement vectors"))
    signing = keys.signing_key
    issuer = Issuer(signing, keys.group_key, clock=FixedClock(NOW),
                    random_bytes=seeded_random(b"nonces"),
                    token_ids=settlement_token_ids(signing, seeded_random(b"salts")))
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)))
    issuer_doc = {"warning": WARNING, "issuer": signing.issuer, "kid": signing.kid.hex(),
                  "ed25519_seed": signing.private_key.seed.hex(),
                  "handle_key": HandleKey.of(signing).secret.hex()}
    handles, verified_tokens = [], []
    for cid, region, insutype in PEOPLE:
        credential = Credential(cid, Region(region), insutype, "张*", Channel.WECHAT, NOW - 99)
        token = issuer.mint(credential, BusinessType.PHARMACY_PURCHASE)
        verified = verifier.check(token, BusinessType.PHARMACY_PURCHASE, now=NOW)
        verified_tokens.append(verified)
        handle = verified.settlement.mdtrt_cert_no
        assert handle is not None
        parts = parse_handle(handle)
        handles.append({"credential_id": cid, "expires_at": parts.expires_at,
                        "salt": parts.salt.hex(), "tag": parts.tag.hex(),
                        "token_id": parts.token_id.hex(), "ref": credential_ref(cid).hex(),
                        "handle": handle, "insuplc_admdvs": region, "insutype": insutype.value})
    first = handles[0]["handle"]
    assert isinstance(first, str)
    refusals = [
        {"handle": _flip(first, 0), "error": "handle_malformed", "why": "version byte"},
        {"handle": _flip(first, 2), "error": "handle_invalid", "why": "expiry altered"},
        {"handle": _flip(first, 10), "error": "handle_invalid", "why": "tag altered"},
        {"handle": _flip(first, 24), "error": "person_not_registered", "why": "ref altered"},
        {"handle": first[:-1], "error": "handle_malformed", "why": "39 characters"},
    ]
    handle_doc = {"format": FORMAT, "name": "handles", "now": NOW, "resolve_window": 900,
                  "issuer": issuer_doc, "handles": handles, "refused": refusals}

    till = new_terminal_key("T3101150001", "P31011500017", seeded_random(b"till"))
    impostor = new_terminal_key("T3101150001", "P31011500017", seeded_random(b"impostor"))
    terminal_doc = {"terminal_id": till.terminal_id, "institution": till.institution,
                    "kid": till.kid.hex(), "ed25519_seed": till.private_key.seed.hex(),
                    "public_key": till.public.public_key.raw.hex(), "warning": WARNING}
    accepted = Receipt.of_verified(verified_tokens[0], till, NOW + 1, amount_fen=12_800,
                                   sequence=1)
    bad_token = "EC1:NOT-A-TOKEN"
    rejection = Receipt.of_rejection(bad_token, TokenRejected(ErrorCode.MALFORMED),
                                     BusinessType.PHARMACY_PURCHASE, till, NOW + 2, sequence=2)
    receipts = [{"fields": r.to_dict(), "cose_hex": sign_record(r, till).hex()}
                for r in (accepted, rejection)]
    forged_sig = bytes.fromhex(str(receipts[0]["cose_hex"]))
    receipt_doc = {"format": FORMAT, "name": "receipts", "terminal": terminal_doc,
                   "receipts": receipts, "refused": [
                       {"cose_hex": sign_record(accepted, impostor).hex(),
                        "error": "unknown_terminal", "why": "another key, same filing number"},
                       {"cose_hex": (forged_sig[:-1] + bytes([forged_sig[-1] ^ 1])).hex(),
                        "error": "receipt_bad_signature", "why": "last signature bit"},
                   ]}
    voucher = Voucher(accepted, 12_800, "RX-20260921-0001")
    with_device = Voucher(Receipt.of_verified(verified_tokens[1], till, NOW + 3,
                                              amount_fen=500), 500, "RX-2", "phone-7f3a", 41)
    voucher_doc = {"format": FORMAT, "name": "vouchers", "terminal": terminal_doc,
                   "vouchers": [{"fields": v.to_dict(), "cose_hex": sign_record(v, till).hex()}
                                for v in (voucher, with_device)],
                   "refused": [{"cose_hex": receipts[0]["cose_hex"], "error": "receipt_invalid",
                                "why": "a receipt is not a voucher"}]}
    transactions = [Transaction(12_800, "P31011500017", "RX-1", "T3101150001", NOW),
                    Transaction(500, "H11010500001", "ORDER-9", "T1101050009", NOW, 41)]
    transaction_doc = {"format": FORMAT, "name": "transactions", "transactions": [
        {"amount_fen": t.amount_fen, "payee": t.payee, "order_id": t.order_id,
         "terminal_id": t.terminal_id, "time": t.time, "device_counter": t.device_counter,
         "cbor_hex": t.encode().hex(), "digest_hex": t.digest.hex()} for t in transactions]}
    return {"handles.json": handle_doc, "receipts.json": receipt_doc,
            "vouchers.json": voucher_doc, "transactions.json": transaction_doc}


def dump(doc: dict[str, object]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, doc in build().items():
        (args.out / name).write_text(dump(doc), "utf-8")
        print(args.out / name)


if __name__ == "__main__":
    main()
