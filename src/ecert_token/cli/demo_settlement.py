"""The settlement part of ``ecert demo``: a pharmacy payment from scan to settlement.

The platform registers the person, mints a payment code whose handle it can
resolve, the pharmacy till verifies it offline and reads the settlement
fields, the person approves the amount in the app, the platform resolves the
handle and checks the till's transaction, and the till's signed receipt is
verified.  Then the platform is down: the till signs a voucher, which is
submitted twice (the second refused) and settled once.  Everything lives in a
temporary directory that is removed at the end.  The steps are reported through the
demo's ``step`` and ``say`` (text, or the fields of ``demo --json``), as in holder mode.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ..clock import FixedClock
from ..errors import EcertError
from ..keys.keydir import KeyDir
from ..keys.terminal import new_terminal_key
from ..model import BusinessType, Credential, PsnCertType
from ..settlement import (
    Confirmations,
    Person,
    PersonRegistry,
    Receipt,
    RecordVerifier,
    Resolver,
    Transaction,
    Voucher,
    VoucherLedger,
    settlement_token_ids,
    sign_record,
)
from ..token import Issuer, Verifier, VerifyPolicy

PHARMACY = BusinessType.PHARMACY_PURCHASE


def run_pharmacy_payment(keys: KeyDir, person: Credential, now: int, *,
                         step: Callable[[str], None], say: Callable[..., None]) -> None:
    """Steps 10 and 11 of the demo; raise SystemExit if any step does not turn out as shown.

    ``step`` opens a step, ``say(text, **fields)`` reports it (as text, or as the
    fields of the demo's JSON document).
    """
    with tempfile.TemporaryDirectory(prefix="ecert-demo-") as tmp:
        db = Path(tmp) / "platform.db"
        clock = FixedClock(now)
        with PersonRegistry(db, clock=clock) as registry, \
                Confirmations(db, clock=clock) as confirmations:
            registry.add(Person(person.credential_id, PsnCertType.RESIDENT_ID_CARD,
                                "11010519491231002X", "张三丰", person.region,
                                person.insurance_type))
            step("10. A pharmacy payment (02121), from scan to settlement")
            say("   the platform's person registry holds the ID number and name (never a code)")
            issuer = Issuer(keys.signing_key, keys.group_key,
                            token_ids=settlement_token_ids(keys.signing_key))
            token = issuer.mint(person, PHARMACY, now=now)
            till = new_terminal_key("T1101050001", "P11010500017")
            # The till's replay store began five minutes ago (see the demo's step 1).
            till_clock = FixedClock(now - 300)
            verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=till_clock))
            till_clock.now = now
            verified = verifier.verify(token, PHARMACY)
            fields = verified.settlement
            handle = fields.mdtrt_cert_no
            if handle is None:  # pragma: no cover - the demo would be lying
                raise SystemExit("demo error: no settlement handle")
            say(f"   till {till.terminal_id} verifies offline: mdtrt_cert_type "
                f"{fields.mdtrt_cert_type.value}, mdtrt_cert_no {handle} ({len(handle)} chars), "
                f"insuplc_admdvs {fields.insuplc_admdvs}, insutype {fields.insutype.value}",
                terminal_id=till.terminal_id, accepted=verified.to_dict())
            charge = Transaction(2_350, till.institution, "RX-0001", till.terminal_id, now)
            confirmations.approve(handle, charge)
            say("   the person approves 23.50 yuan at P11010500017 in the app",
                approved_fen=charge.amount_fen, payee=charge.payee)
            resolved = Resolver(keys.issuer_ring, registry, clock=clock).resolve(handle)
            confirmations.consume(handle, charge)
            certno = f"{resolved.person.certno[:6]}************"
            say(f"   the platform resolves the handle: psn_cert_type "
                f"{resolved.person.psn_cert_type.value}, certno {certno}, psn_name "
                f"{person.masked_name}; the charge matches: SETTLED",
                resolved={"psn_cert_type": resolved.person.psn_cert_type.value,
                          "certno": certno, "psn_name": person.masked_name},
                settled=True)
            signed = sign_record(Receipt.of_verified(verified, till, now, amount_fen=2_350), till)
            RecordVerifier([till.public]).receipt(signed)
            say(f"   the till's signed receipt ({len(signed)} bytes) verifies at the platform",
                receipt_bytes=len(signed), receipt_verified=True)

            step("11. The platform is down at the next payment: the person pays in full")
            second = issuer.mint(person, PHARMACY, now=now)
            scanned = verifier.verify(second, PHARMACY)
            receipt = Receipt.of_verified(scanned, till, now, amount_fen=4_800)
            voucher = sign_record(Voucher(receipt, 4_800, "RX-0002"), till)
            say(f"   the till signs a visit voucher ({len(voucher)} bytes)",
                voucher_bytes=len(voucher), paid_in_full_fen=4_800)
            with VoucherLedger(db, RecordVerifier([till.public]), clock=clock) as ledger:
                ledger.submit(voucher)
                try:
                    ledger.submit(voucher)
                except EcertError as err:
                    say(f"   submitted later; a second submission: REJECTED code={err.code.value}",
                        rejected=err.to_dict())
                else:  # pragma: no cover - the demo would be lying
                    raise SystemExit("demo error: a duplicate voucher was accepted")
                settled = ledger.settle(receipt.token_digest,
                                        Resolver(keys.issuer_ring, registry, clock=clock))
                say(f"   settled once: {settled.voucher.paid_in_full_fen / 100:.2f} yuan "
                    f"to reimburse, person found by the handle",
                    reimbursed_fen=settled.voucher.paid_in_full_fen)
