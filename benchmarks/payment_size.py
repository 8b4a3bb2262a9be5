"""Payment presentation size: what the payment binding and the handle tag cost.

    python benchmarks/payment_size.py [--json FILE]

Deterministic (fixed keys, time and random bytes, the registry's status index too).  The
reference person is the one of benchmarks/holder_size.py (12-character credential id,
masked name 张*丰, open credential).  Base45 turns 2 bytes into 3 characters; the QR
version is the smallest at level M (the ``qr`` extra): 13-M holds 483 alphanumeric
characters (the acceptable limit of issue #13), 14-M 535.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ecert_token.codec import cbor
from ecert_token.codec.base45 import b45decode
from ecert_token.holder.device import new_device_key
from ecert_token.holder.payment import BINDING, Ceiling, Charge, PaymentBinding
from ecert_token.holder.presentation import present
from ecert_token.keys import keydir
from ecert_token.model import BusinessType, Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token_tools.vectors import seeded_random as seeded

NOW = 1_790_000_000
PHARMACY = BusinessType.PHARMACY_PURCHASE
LIMIT = 483


def qr_m(text: str) -> int | None:
    try:
        from ecert_token.qr import qr_version
    except ImportError:  # pragma: no cover - without the qr extra
        return None
    return qr_version(text, "M")


def measure() -> dict[str, object]:
    keys = keydir.generate(random_bytes=seeded(b"holder-size keys"))
    rnd = seeded(b"payment-size")
    phone = new_device_key(rnd)
    with tempfile.TemporaryDirectory() as tmp:
        registry = ActivationRegistry(Path(tmp) / "r.db",
                                      random_bytes=seeded(b"payment-size indices"))
        platform = HolderPlatform(registry, keys.signing_key, random_bytes=rnd)
        issued = platform.activate(Activation(
            "E4Q7ZK2M9PXA", phone.public_key.raw, Region("110105"),
            InsuranceType.EMPLOYEE_BASIC, "张*丰", Channel.WECHAT), now=NOW - 3600).file
    till = Charge(2_350, "P11010500017", "RX-20260921-0001", "T1101050001", NOW - 20)
    texts = {
        "no binding, random id (as before)": present(issued.sealed, phone, PHARMACY, now=NOW,
                                                     random_bytes=rnd),
        "no binding, id with the handle tag": present(
            issued.sealed, phone, PHARMACY, now=NOW, random_bytes=rnd,
            handle_key=issued.handle_key),
    }
    for counter in (1, 1_000, 100_000):
        texts[f"two scans (exact binding), counter {counter}"] = present(
            issued.sealed, phone, PHARMACY, now=NOW, random_bytes=rnd,
            handle_key=issued.handle_key, payment=till, counter=counter)
    texts["one scan, ceiling 500.00 yuan, counter 1_000"] = present(
        issued.sealed, phone, PHARMACY, now=NOW, random_bytes=rnd, handle_key=issued.handle_key,
        payment=Ceiling(50_000, "P11010500017"), counter=1_000)
    variants = {name: {"chars": len(t), "bytes": len(b45decode(t[4:])), "qr_m": qr_m(t),
                       "within_483": len(t) <= LIMIT} for name, t in texts.items()}

    digest = bytes(8)
    key = len(cbor.dumps(BINDING))
    parts = {
        "claim key -65541": key,
        "array heading": 1,
        "counter 1-23 / 24-255 / 256-65535 / to 2**32-1": "1 / 2 / 3 / 5",
        "digest (8 bytes + heading)": len(cbor.dumps(digest)),
        "ceiling in fen (256 to 65,535)": len(cbor.dumps(50_000)),
        "exact binding, counter 1_000 (total)":
            len(cbor.dumps({BINDING: PaymentBinding(1_000, digest).value()})) - 1,
        "ceiling binding, counter 1_000 (total)":
            len(cbor.dumps({BINDING: PaymentBinding(1_000, digest, 50_000).value()})) - 1,
        "handle tag in the presentation id": 0,
    }
    return {"variants": variants, "parts_bytes": parts}


def markdown(result: dict[str, object]) -> str:
    lines = ["| presentation (02121) | characters | bytes | QR version (M) | <= 483 |",
             "|---|---:|---:|---|---|"]
    rows = result["variants"]
    assert isinstance(rows, dict)
    for name, r in rows.items():
        lines.append(f"| {name} | {r['chars']} | {r['bytes']} | {r['qr_m']} | "
                     f"{'yes' if r['within_483'] else 'no'} |")
    lines += ["", "| part of the binding | bytes |", "|---|---:|"]
    parts = result["parts_bytes"]
    assert isinstance(parts, dict)
    for name, b in parts.items():
        lines.append(f"| {name} | {b} |")
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
