"""What settlement costs per operation: the terminal's handle and receipt, the
platform's resolution (a SQLite registry of many persons), receipt checks and
voucher submissions.  Median of several rounds; rerun:
    python benchmarks/settlement_speed.py [--persons 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    FixedClock,
    InsuranceType,
    Issuer,
    PsnCertType,
    Region,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys import keydir
from ecert_token.keys.terminal import new_terminal_key
from ecert_token.model.settlement import compose_handle
from ecert_token.settlement import (
    Person,
    PersonRegistry,
    Receipt,
    RecordVerifier,
    Resolver,
    Voucher,
    VoucherLedger,
    settlement_token_ids,
    sign_record,
)
from ecert_token_tools.vectors import seeded_random

NOW = 1_790_000_000
PAY = BusinessType.PHARMACY_PURCHASE


def per_op_us(fn: Callable[[int], object], n: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean time of ``n`` calls, in microseconds."""
    results = []
    for r in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            fn(r * n + i)
        results.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(results)


def measure(persons: int) -> dict[str, float]:
    keys = keydir.generate(random_bytes=seeded_random(b"speed keys"))
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                    token_ids=settlement_token_ids(keys.signing_key, os.urandom))
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)))
    till = new_terminal_key("T1101050001", "P11010500017", seeded_random(b"till"))
    ids = [f"P{i:011d}" for i in range(persons)]
    tokens = [issuer.mint(Credential(cid, Region("110105"), InsuranceType.EMPLOYEE_BASIC, "张*",
                                     Channel.WECHAT, NOW - 9), PAY) for cid in ids[:2000]]
    verified = [verifier.check(t, PAY, now=NOW) for t in tokens]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "platform.db"
        with PersonRegistry(db) as registry:
            registry.add_many(Person(cid, PsnCertType.OTHER, "X1", "Test", Region("110105"),
                                     InsuranceType.EMPLOYEE_BASIC) for cid in ids)
            resolver = Resolver(keys.issuer_ring, registry, clock=FixedClock(NOW))
            handles = [v.settlement.mdtrt_cert_no for v in verified]
            receipts = [Receipt.of_verified(v, till, NOW, amount_fen=100) for v in verified]
            signed = [sign_record(r, till) for r in receipts]
            records = RecordVerifier([till.public])
            n = len(verified) // 5
            out = {
                "terminal: compose handle": per_op_us(
                    lambda i: compose_handle(verified[i].claims), n),
                "terminal: sign receipt": per_op_us(
                    lambda i: sign_record(receipts[i], till), n),
                f"platform: resolve handle ({persons:,} persons)": per_op_us(
                    lambda i: resolver.resolve(handles[i]), n),  # type: ignore[arg-type]
                "platform: verify receipt": per_op_us(lambda i: records.receipt(signed[i]), n),
            }
            vouchers = [sign_record(Voucher(r, 100, "RX"), till) for r in receipts]
            with VoucherLedger(db, records, clock=FixedClock(NOW)) as ledger:
                out["platform: submit voucher (verify + insert)"] = per_op_us(
                    lambda i: ledger.submit(vouchers[i]), n)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--json", help="also write the figures as JSON to this file")
    args = parser.parse_args()
    figures = measure(args.persons)
    print("| operation | microseconds |")
    print("| --- | ---: |")
    for name, us in figures.items():
        print(f"| {name} | {us:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
