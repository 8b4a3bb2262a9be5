"""``ecert demo``: the life of one code, for a newcomer, in readable text.

Mints a code for a sample insured person, shows it (as a QR code in the
terminal when the ``qr`` extra is installed), verifies it at a hospital
counter, then shows the same code rejected as a replay and an old code
rejected as expired.  Then the holder mode: the person's phone is bound
once, mints a code offline, and is unbound; and a pharmacy payment, settled
online and, with the platform down, by voucher.  Keys are made fresh in memory
and thrown away.

It prints text for people; ``--json`` prints the same steps as one JSON
document (the token, the accepted claims, each refusal's code) instead.
"""

from __future__ import annotations

from typing import Any

from ..clock import FixedClock, system_clock
from ..errors import EcertError
from ..keys import keydir
from ..keys.suite import ALG_NAMES, Suite
from ..model import BusinessType, Channel, Credential, InsuranceType, Region, mask_name
from ..token import Issuer, Verifier, VerifyPolicy
from .output import emit


def _qr_art(token: str) -> str | None:
    try:
        from ..qr import render_text
    except ImportError:
        return None
    try:
        return render_text(token, level="M")
    except EcertError:
        return None


class _Report:
    """Prints the steps as text, or collects them for one JSON document."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.steps: list[dict[str, Any]] = []

    def step(self, title: str) -> None:
        self.steps.append({"step": title})
        if not self.as_json:
            print(f"\n== {title}")

    def say(self, text: str, **fields: Any) -> None:
        self.steps[-1].update(fields)
        if not self.as_json:
            print(text)


def _rejected(report: _Report, verifier: Verifier, token: str, business: BusinessType) -> None:
    try:
        verifier.verify(token, business)
    except EcertError as err:
        report.say(f"   REJECTED  code={err.code.value}: {err}", rejected=err.to_dict())
    else:  # pragma: no cover - the demo would be lying
        raise SystemExit("demo error: a token that should be rejected was accepted")


def run_demo(qr: bool = True, as_json: bool = False, suite: Suite = Suite.ED25519) -> int:
    now = system_clock()
    # The terminal has been running for five minutes when the person arrives: a
    # replay store that started empty refuses codes minted before it started
    # (restart fencing), so the demo starts it first, on a simulated clock.
    terminal_clock = FixedClock(now - 300)
    report = _Report(as_json)
    _step = report.step
    _step("1. The issuing platform makes an issuer key and a verifier-group key;"
          " a hospital terminal with the group key has been running for five minutes")
    keys = keydir.generate(suite=suite)
    issuer_alg, group_alg = ALG_NAMES[keys.signing_key.public.alg], ALG_NAMES[keys.group_key.alg]
    report.say(f"   issuer {keys.signing_key.issuer}, kid {keys.signing_key.kid.hex()} "
               f"({issuer_alg})\n"
               f"   group  {keys.group_key.group}, kid {keys.group_key.kid.hex()} ({group_alg})",
               issuer=keys.signing_key.issuer, issuer_kid=keys.signing_key.kid.hex(),
               group=keys.group_key.group, group_kid=keys.group_key.kid.hex(),
               issuer_alg=issuer_alg, group_alg=group_alg)

    person = Credential(
        credential_id="E4Q7ZK2M9PXA",
        region=Region("110105"),
        insurance_type=InsuranceType.EMPLOYEE_BASIC,
        masked_name=mask_name("张三丰"),
        channel=Channel.WECHAT,
        issued_at=now - 86_400 * 365,
    )
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=terminal_clock))
    terminal_clock.now = now

    _step("2. An insured person opens the app; the platform mints a one-minute code")
    issuer = Issuer(keys.signing_key, keys.group_key)
    token = issuer.mint(person, BusinessType.HOSPITAL_REGISTRATION, now=now)
    report.say(f"   credential {person.credential_id}, region {person.region} (Beijing, Chaoyang), "
               f"insurance {person.insurance_type.value}, name {person.masked_name}\n"
               f"   token ({len(token)} characters):\n   {token}",
               credential_id=person.credential_id, token=token)
    art = _qr_art(token) if qr and not as_json else None
    if art:
        print(art)
    elif qr and not as_json:
        print("   (install ecert-token[qr] to see the QR code here)")

    _step("3. The hospital counter scans it for registration (01101) and verifies it")
    result = verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)
    report.say(f"   ACCEPTED: cert type {result.cert_type.value} "
               f"(e-certificate token), credential {result.subject}, "
               f"region {result.claims.region}, "
               f"insurance {result.claims.insurance_type.value}, "
               f"name {result.claims.masked_name}, "
               f"business {result.claims.business_type.value}, expires in "
               f"{result.claims.expires_at - now} s", accepted=result.to_dict())

    _step("4. Someone scans the same code again (a screenshot, a second counter)")
    _rejected(report, verifier, token, BusinessType.HOSPITAL_REGISTRATION)

    _step("5. A code minted two minutes ago is presented")
    old = issuer.mint(person, BusinessType.HOSPITAL_REGISTRATION, now=now - 120)
    _rejected(report, verifier, old, BusinessType.HOSPITAL_REGISTRATION)

    _step("6. A registration code is presented at the settlement (payment) step")
    fresh = issuer.mint(person, BusinessType.HOSPITAL_REGISTRATION, now=now)
    _rejected(report, verifier, fresh, BusinessType.HOSPITAL_SETTLEMENT)

    from .demo_holder import run_holder_mode
    from .demo_settlement import run_holder_payment, run_pharmacy_payment

    run_holder_mode(keys, verifier, now, step=_step, say=report.say,
                    qr_art=_qr_art if qr and not as_json else lambda _text: None, suite=suite)
    payment = suite is Suite.ED25519  # the payment walk-through's terminal keys are Ed25519
    if payment:
        run_pharmacy_payment(keys, person, now, step=_step, say=report.say)
        run_holder_payment(keys, now, step=_step, say=report.say)
    if as_json:
        emit({"steps": report.steps})
    else:
        print("\nDone: one valid code accepted once; replay, expiry and misuse refused"
              + "; a code minted offline on the phone accepted, and refused once unbound"
              + ("; a pharmacy payment settled online and, with the platform down, by voucher;"
                 " an offline payment confirmed on the phone, and one presentation at two"
                 " offline tills found at settlement." if payment else "."), flush=True)
    return 0
