"""The platform's resolver: a handle from a settlement request -> the person's identity.

The hospital system sends ``mdtrt_cert_type`` 01 and the handle in
``mdtrt_cert_no``; the platform answers with ``psn_cert_type``, ``certno``,
``psn_name``, ``insuplc_admdvs`` and ``insutype`` from its person registry,
after checking the handle's tag (:mod:`ecert_token.settlement.handles`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..clock import Clock, system_clock
from ..errors import EcertError, ErrorCode
from ..keys.material import IssuerSigningKey
from ..model.settlement import parse_handle
from .handles import DEFAULT_RESOLVE_WINDOW, CheckedHandle, HandleChecker
from .persons import Person, PersonRegistry


@dataclass(frozen=True, slots=True)
class Resolution:
    """A resolved handle: the person and the code the handle came from."""

    person: Person
    handle: CheckedHandle

    def to_dict(self) -> dict[str, object]:
        """The settlement identity and where it came from (JSON-ready)."""
        return {
            **self.person.to_dict(),
            "credential_id": self.person.credential_id,
            "issuer": self.handle.issuer,
            "issuer_kid": self.handle.issuer_kid.hex(),
            "expires_at": self.handle.expires_at,
        }


class Resolver:
    """Resolves handles with the platform's issuer keys and person registry.

    A handle whose ``ref`` matches no registered person cannot be checked (the
    tag needs the credential id) and is refused as PERSON_NOT_REGISTERED:
    forged, or the code of someone the registry does not hold.
    """

    def __init__(
        self,
        signing_keys: Iterable[IssuerSigningKey],
        registry: PersonRegistry,
        *,
        clock: Clock = system_clock,
        window: int = DEFAULT_RESOLVE_WINDOW,
    ) -> None:
        self.checker = HandleChecker(signing_keys)
        self.registry = registry
        self._clock = clock
        self.window = window

    def check(self, handle: str, *, now: int | None = None,
              window: int | None = None) -> CheckedHandle:
        """The checked handle (its tag, then its age), without reading the person."""
        parts = parse_handle(handle)
        candidates = self.registry.candidates(parts.ref)
        if not candidates:
            raise EcertError(ErrorCode.PERSON_NOT_REGISTERED)
        return self.checker.check(parts, candidates, self._clock() if now is None else now,
                                  self.window if window is None else window)

    def resolve(self, handle: str, *, now: int | None = None,
                window: int | None = None) -> Resolution:
        """The person behind ``handle``, or the refusal (malformed, forged or
        altered, expired, not registered)."""
        checked = self.check(handle, now=now, window=window)
        person = self.registry.get(checked.credential_id)
        if person is None:  # removed between the two reads
            raise EcertError(ErrorCode.PERSON_NOT_REGISTERED)
        return Resolution(person, checked)
