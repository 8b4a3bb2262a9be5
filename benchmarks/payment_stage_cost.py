"""What the payment stage costs a terminal: run ``PresentationVerifier.check`` N times.

    python benchmarks/payment_stage_cost.py --variant plain|exact|ceiling --count N

Meant for ``valgrind --tool=callgrind`` (load-independent instruction counts;
subtract a ``--count 0`` run for the set-up)::

    for v in plain exact ceiling; do for n in 0 2000; do
      valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/payment_stage_cost.py --variant $v --count $n 2>&1 | grep Collected
    done; done

``plain`` is a payment presentation without a binding checked without a
transaction (what every presentation paid before the stage existed, plus the
one comparison that skips it); ``exact`` and ``ceiling`` are bound
presentations checked against the terminal's transaction.  The credential is
cached (a returning holder), as at a till.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ecert_token.holder.device import new_device_key
from ecert_token.holder.payment import Ceiling, Charge
from ecert_token.holder.presentation import present
from ecert_token.holder.verify import PresentationVerifier
from ecert_token.keys import keydir
from ecert_token.model import BusinessType, Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token.token.policy import VerifyPolicy
from ecert_token_tools.vectors import seeded_random as seeded

NOW = 1_790_000_000
PHARMACY = BusinessType.PHARMACY_PURCHASE
PAYEE = "P11010500017"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("plain", "exact", "ceiling"), default="plain")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args(argv)
    keys = keydir.generate(random_bytes=seeded(b"payment stage keys"))
    rnd = seeded(b"payment stage")
    phone = new_device_key(rnd)
    with tempfile.TemporaryDirectory() as tmp:
        f = HolderPlatform(ActivationRegistry(Path(tmp) / "r.db"), keys.signing_key,
                           random_bytes=rnd).activate(Activation(
            "E4Q7ZK2M9PXA", phone.public_key.raw, Region("110105"),
            InsuranceType.EMPLOYEE_BASIC, "张*丰", Channel.WECHAT), now=NOW - 3600).file
    till = Charge(2_350, PAYEE, "RX-1", "T1101050001", NOW - 20)
    terms = {"plain": None, "exact": till, "ceiling": Ceiling(5_000, PAYEE)}[args.variant]
    charge = None if terms is None else (till if args.variant == "exact"
                                         else Charge(2_350, PAYEE, "RX-1"))
    texts = [present(f.sealed, phone, PHARMACY, now=NOW, random_bytes=rnd,
                     handle_key=f.handle_key, payment=terms,
                     counter=None if terms is None else i + 1) for i in range(200)]
    checker = PresentationVerifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW))
    checker.check(texts[0], PHARMACY, now=NOW, charge=charge)  # the credential is cached
    for i in range(args.count):
        checker.check(texts[i % 200], PHARMACY, now=NOW, charge=charge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
