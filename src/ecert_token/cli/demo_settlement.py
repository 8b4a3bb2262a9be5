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
from ..holder.challenge import verify_presentation
from ..holder.device import new_device_key
from ..holder.payment import Ceiling
from ..holder.payment import Charge as HolderCharge
from ..holder.presentation import present
from ..keys.keydir import KeyDir
from ..keys.terminal import new_terminal_key
from ..model import (
    BusinessType,
    Channel,
    Credential,
    InsuranceType,
    PsnCertType,
    Region,
    mask_name,
)
from ..registry import Activation, ActivationRegistry, HolderPlatform
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
    counter_reuses,
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


def run_holder_payment(keys: KeyDir, now: int, *, step: Callable[[str], None],
                       say: Callable[..., None]) -> None:
    """Steps 12 and 13: an offline payment with a holder's phone, from scan to settlement.

    The person is activated with their identity (a foreigner, passport 08); the
    phone confirms the till's transaction (two scans), a till with another
    amount is refused; then one presentation under a ceiling is taken by two
    offline tills with separate replay stores while the platform is down, and
    settlement finds it: one voucher settled, the second refused.  ``step`` and
    ``say`` as in :func:`run_pharmacy_payment`.
    """
    cid = "FRGN7Q2K9M"
    with tempfile.TemporaryDirectory(prefix="ecert-demo-") as tmp:
        db = Path(tmp) / "platform.db"
        clock = FixedClock(now)
        with PersonRegistry(db, clock=clock) as persons, ActivationRegistry(db) as registry:
            step("12. Offline payment with the phone: the person confirms the till's "
                 "transaction (two scans)")
            persons.put(Person(cid, PsnCertType.FOREIGN_PASSPORT, "E12345678", "John Smith",
                               Region("310115"), InsuranceType.URBAN_RESIDENT_BASIC))
            phone = new_device_key()
            issued = HolderPlatform(registry, keys.signing_key).activate(Activation(
                cid, phone.public_key.raw, Region("310115"),
                InsuranceType.URBAN_RESIDENT_BASIC, mask_name("John Smith"),
                Channel.NATIONAL_SERVICE_APP), now=now - 3600).file
            say("   activated with a passport (08) and a Latin-script name: the registry keeps "
                "them, the credential says J* S*", psn_cert_type="08", masked_name="J* S*")
            tills = [new_terminal_key(f"T310115000{i}", "P31011500017") for i in (1, 2)]
            till_verifiers = []
            for _ in tills:  # each till has its own replay store, running for five minutes
                till_clock = FixedClock(now - 300)
                till_verifiers.append(Verifier(keys.trust_store(), VerifyPolicy(clock=till_clock)))
                till_clock.now = now
            shown = HolderCharge(2_350, tills[0].institution, "RX-0101", tills[0].terminal_id,
                                 now)
            text = present(issued.sealed, phone, PHARMACY, now=now, handle_key=issued.handle_key,
                           payment=HolderCharge.from_text(shown.text()), counter=1)
            say(f"   till {tills[0].terminal_id} shows its transaction ({len(shown.text())} "
                f"characters): {shown.text()}\n   the phone shows 23.50 yuan at "
                f"{shown.payee}; the person confirms; presentation ({len(text)} characters, "
                f"device counter 1)", transaction=shown.text(), presentation_chars=len(text))
            try:
                verify_presentation(till_verifiers[1], text, PHARMACY,
                                    charge=HolderCharge(2_530, shown.payee, shown.order_id))
            except EcertError as err:
                say(f"   another till charging 25.30 yuan: REJECTED code={err.code.value}",
                    rejected=err.to_dict())
            else:  # pragma: no cover - the demo would be lying
                raise SystemExit("demo error: a mismatched payment was accepted")
            verified = verify_presentation(till_verifiers[0], text, PHARMACY, charge=shown)
            handle = verified.settlement.mdtrt_cert_no
            if handle is None:  # pragma: no cover - the demo would be lying
                raise SystemExit("demo error: no settlement handle")
            resolved = Resolver(keys.issuer_ring, persons, clock=clock).resolve(handle)
            say(f"   till {tills[0].terminal_id} verifies offline against its own transaction: "
                f"ACCEPTED; mdtrt_cert_no {handle} ({len(handle)} chars); the platform resolves "
                f"it: psn_cert_type {resolved.person.psn_cert_type.value}, psn_name "
                f"{mask_name(resolved.person.psn_name)} (in full to the hospital system)",
                accepted=verified.to_dict(),
                resolved_psn_cert_type=resolved.person.psn_cert_type.value)

            step("13. The platform is down: one presentation under a 50.00 yuan ceiling "
                 "is taken at two offline tills")
            text = present(issued.sealed, phone, PHARMACY, now=now, handle_key=issued.handle_key,
                           payment=Ceiling(5_000, "P31011500017"), counter=2)
            receipts, vouchers = [], []
            for i, (till, verifier) in enumerate(zip(tills, till_verifiers, strict=True)):
                charge = HolderCharge(4_800, till.institution, f"RX-02{i}")
                scanned = verify_presentation(verifier, text, PHARMACY, charge=charge)
                receipt = Receipt.of_verified(scanned, till, now, amount_fen=4_800)
                receipts.append(receipt)
                vouchers.append(sign_record(Voucher(receipt, 4_800, charge.order_id), till))
            say(f"   both tills accept it (separate replay stores cannot know) and sign "
                f"vouchers; device {receipts[0].device_id}, counter {receipts[0].device_counter}",
                device_id=receipts[0].device_id, device_counter=receipts[0].device_counter)
            platform_view = RecordVerifier([t.public for t in tills])
            with VoucherLedger(db, platform_view, clock=clock) as ledger:
                found = counter_reuses(receipts)
                first = ledger.submit(vouchers[0])
                try:
                    ledger.submit(vouchers[1])
                except EcertError as err:
                    tills_seen = len(next(iter(found.values())))
                    say(f"   the platform: the receipts show one device counter at {tills_seen} "
                        f"tills; the second voucher: REJECTED code={err.code.value}",
                        counter_reuses=len(found), rejected=err.to_dict())
                else:  # pragma: no cover - the demo would be lying
                    raise SystemExit("demo error: a duplicate voucher was accepted")
                settled = ledger.settle(first.receipt.token_digest,
                                        Resolver(keys.issuer_ring, persons, clock=clock))
                say(f"   settled once: {settled.voucher.paid_in_full_fen / 100:.2f} yuan to "
                    f"reimburse to {mask_name(settled.person.psn_name)} (passport, found by "
                    f"the handle)",
                    reimbursed_fen=settled.voucher.paid_in_full_fen)
