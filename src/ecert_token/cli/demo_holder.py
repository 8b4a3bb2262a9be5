"""The holder-mode part of ``ecert demo``: activation, an offline presentation, unbinding.

Uses a throwaway SQLite registry in a temporary directory; the terminal is the
demo's own verifier, given a status-list loader.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import EcertError
from ..holder import PresentationVerifier, StatusListLoader, present
from ..holder.device import new_device_key
from ..keys.keydir import KeyDir
from ..keys.suite import Suite
from ..model import BusinessType, Channel, InsuranceType, Region
from ..registry import Activation, ActivationRegistry, HolderPlatform
from ..token import Verifier


def run_holder_mode(keys: KeyDir, verifier: Verifier, now: int, *,
                    step: Callable[[str], None], say: Callable[..., None],
                    qr_art: Callable[[str], str | None],
                    suite: Suite = Suite.ED25519) -> None:
    """Steps 7 to 9 of the demo: the same person, with a phone that mints offline.

    ``step`` opens a step, ``say(text, **fields)`` reports it (as text, or as the
    fields of the demo's JSON document); ``qr_art`` draws a QR code or gives None;
    ``suite`` is the phone's device key's (SM2 under ``ecert demo --suite sm``).
    """
    registration = BusinessType.HOSPITAL_REGISTRATION
    with tempfile.TemporaryDirectory() as tmp, \
            ActivationRegistry(Path(tmp) / "registry.db") as registry:
        step("7. Holder mode: the person binds a phone once (face check in the channel);"
             " the platform signs a 30-day credential bound to the phone's key")
        phone = new_device_key(suite=suite)
        platform = HolderPlatform(registry, keys.signing_key)
        issued = platform.activate(Activation(
            "E4Q7ZK2M9PXA", phone.public_key.encoded, Region("110105"),
            InsuranceType.EMPLOYEE_BASIC, "张*丰", Channel.WECHAT), now=now - 3600)
        status, _ = platform.status_list(now=now - 60)
        loader = StatusListLoader(verifier.trust, clock=verifier.policy.clock)
        loader.offer(status)
        verifier = Verifier(verifier.trust, verifier.policy, verifier.replay_store,
                            presentations=PresentationVerifier(verifier.trust, verifier.policy,
                                                               loader))
        say(f"   status list index {issued.record.status_idx}; the terminal loaded today's "
            f"status list ({len(status)} bytes)", status_idx=issued.record.status_idx,
            status_list_bytes=len(status))

        step("8. In a basement pharmacy with no signal, the phone mints its own code")
        text = present(issued.file.sealed, phone, registration, now=now)
        say(f"   presentation ({len(text)} characters, one QR code):\n   {text}",
            presentation=text)
        art = qr_art(text)
        if art:
            print(art)
        result = verifier.verify(text, registration)
        say(f"   ACCEPTED offline: credential {result.subject}, name "
            f"{result.claims.masked_name}, status checked, device signature valid",
            accepted=result.to_dict())

        step("9. The phone is lost: the person unbinds it; the next status list says so")
        platform.unbind("E4Q7ZK2M9PXA", now=now - 30)
        status, _ = platform.status_list(now=now - 20)
        loader.offer(status)
        try:
            verifier.verify(present(issued.file.sealed, phone, registration, now=now),
                            registration)
        except EcertError as err:
            say(f"   REJECTED  code={err.code.value}: {err}", rejected=err.to_dict())
        else:  # pragma: no cover - the demo would be lying
            raise SystemExit("demo error: a revoked credential was accepted")
