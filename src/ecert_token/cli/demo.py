"""``ecert demo``: the life of one code, for a newcomer, in readable text.

Mints a code for a sample insured person, shows it (as a QR code in the
terminal when the ``qr`` extra is installed), verifies it at a hospital
counter, then shows the same code rejected as a replay and an old code
rejected as expired.  Then the holder mode: the person's phone is bound
once, mints a code offline, and is unbound.  Keys are made fresh in memory
and thrown away.
"""

from __future__ import annotations

from ..clock import FixedClock, system_clock
from ..errors import EcertError
from ..keys import keydir
from ..keys.suite import ALG_NAMES, Suite
from ..model import BusinessType, Channel, Credential, InsuranceType, Region, mask_name
from ..token import Issuer, Verifier, VerifyPolicy


def _qr_art(token: str) -> str | None:
    try:
        from ..qr import render_text
    except ImportError:
        return None
    try:
        return render_text(token, level="M")
    except EcertError:
        return None


def _step(title: str) -> None:
    print(f"\n== {title}")


def _rejected(verifier: Verifier, token: str, business: BusinessType) -> None:
    try:
        verifier.verify(token, business)
    except EcertError as err:
        print(f"   REJECTED  code={err.code.value}: {err}")
    else:  # pragma: no cover - the demo would be lying
        raise SystemExit("demo error: a token that should be rejected was accepted")


def run_demo(qr: bool = True, suite: Suite = Suite.ED25519) -> int:
    now = system_clock()
    # The terminal has been running for five minutes when the person arrives: a
    # replay store that started empty refuses codes minted before it started
    # (restart fencing), so the demo starts it first, on a simulated clock.
    terminal_clock = FixedClock(now - 300)
    _step("1. The issuing platform makes an issuer key and a verifier-group key;"
          " a hospital terminal with the group key has been running for five minutes")
    keys = keydir.generate(suite=suite)
    print(f"   issuer {keys.signing_key.issuer}, kid {keys.signing_key.kid.hex()} "
          f"({ALG_NAMES[keys.signing_key.public.alg]})")
    print(f"   group  {keys.group_key.group}, kid {keys.group_key.kid.hex()} "
          f"({ALG_NAMES[keys.group_key.alg]})")

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
    print(f"   credential {person.credential_id}, region {person.region} (Beijing, Chaoyang), "
          f"insurance {person.insurance_type.value}, name {person.masked_name}")
    issuer = Issuer(keys.signing_key, keys.group_key)
    token = issuer.mint(person, BusinessType.HOSPITAL_REGISTRATION, now=now)
    print(f"   token ({len(token)} characters):\n   {token}")
    art = _qr_art(token) if qr else None
    if art:
        print(art)
    elif qr:
        print("   (install ecert-token[qr] to see the QR code here)")

    _step("3. The hospital counter scans it for registration (01101) and verifies it")
    result = verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)
    print(f"   ACCEPTED: cert type {result.cert_type.value} "
          f"(e-certificate token), credential {result.subject}, region {result.claims.region}, "
          f"insurance {result.claims.insurance_type.value}, name {result.claims.masked_name}, "
          f"business {result.claims.business_type.value}, expires in "
          f"{result.claims.expires_at - now} s")

    _step("4. Someone scans the same code again (a screenshot, a second counter)")
    _rejected(verifier, token, BusinessType.HOSPITAL_REGISTRATION)

    _step("5. A code minted two minutes ago is presented")
    old = issuer.mint(person, BusinessType.HOSPITAL_REGISTRATION, now=now - 120)
    _rejected(verifier, old, BusinessType.HOSPITAL_REGISTRATION)

    _step("6. A registration code is presented at the settlement (payment) step")
    fresh = issuer.mint(person, BusinessType.HOSPITAL_REGISTRATION, now=now)
    _rejected(verifier, fresh, BusinessType.HOSPITAL_SETTLEMENT)

    from .demo_holder import run_holder_mode
    from .demo_settlement import run_pharmacy_payment

    holder = suite is Suite.ED25519  # holder credentials are Ed25519 (holder-credentials.md)
    if holder:
        run_holder_mode(keys, verifier, now, _step, _qr_art if qr else lambda _text: None)
        run_pharmacy_payment(keys, person, now)
    print("\nDone: one valid code accepted once; replay, expiry and misuse refused"
          + ("; a code minted offline on the phone accepted, and refused once unbound;"
             " a pharmacy payment settled online and, with the platform down, by voucher."
             if holder else "."))
    return 0
