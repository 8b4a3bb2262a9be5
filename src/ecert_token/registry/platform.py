"""The issuing side of holder credentials: activation, unbinding, family delegation, status lists.

:class:`HolderPlatform` joins the activation registry to the issuer's keys.
Each operation is one registry transaction that also signs, so the registry
never records a credential that was not issued, nor issues one it did not
record.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import Clock, system_clock
from ..errors import InvalidArgument
from ..holder.claims import HolderClaims, StatusRef, validate_uri
from ..holder.credential import CredentialFile, issue
from ..holder.device import DevicePublicKey
from ..holder.statuslist import StatusList, pack, sign_status_list
from ..keys.material import GroupKey, IssuerSigningKey, KeyState
from ..settlement.handles import HandleKey
from .store import Activation, ActivationRegistry, Record

DAY = 86_400
DEFAULT_VALID_DAYS = 30
MAX_VALID_DAYS = 90
DEFAULT_LIST_VALIDITY = 2 * DAY
"""A status list's ``exp`` by default: the terminals' refusal age (48 h)."""
DEFAULT_LIST_TTL = 12 * 3600
STATUS_URI_SETTING = "status_uri"


@dataclass(frozen=True, slots=True)
class Issued:
    """An issued credential or delegation: the phone's file and the registry row."""

    file: CredentialFile
    record: Record
    revoked: tuple[int, ...] = ()


class HolderPlatform:
    """Activation, unbinding, family delegation and status lists for one issuer.

    With a ``group_key`` credentials are sealed to that verifier group (sealed
    mode); without one they are issued open (minimal disclosure, the default).
    """

    def __init__(
        self,
        registry: ActivationRegistry,
        signing_key: IssuerSigningKey,
        group_key: GroupKey | None = None,
        *,
        status_uri: str | None = None,
        clock: Clock = system_clock,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not isinstance(registry, ActivationRegistry):
            raise InvalidArgument("registry must be an ActivationRegistry")
        if not isinstance(signing_key, IssuerSigningKey) or (
            signing_key.state is not KeyState.PRIMARY
        ):
            raise InvalidArgument("a primary IssuerSigningKey issues credentials")
        if group_key is not None and (
            not isinstance(group_key, GroupKey) or group_key.state is KeyState.REVOKED
        ):
            raise InvalidArgument("credentials are sealed to a live GroupKey (or None: open)")
        self.registry = registry
        self.signing_key = signing_key
        self.group_key = group_key
        uri = validate_uri(status_uri or f"ec:{signing_key.issuer}")
        self.status_uri = registry.set_setting_once(STATUS_URI_SETTING, uri)
        self._clock = clock
        self._random = random_bytes
        self._handles = HandleKey.of(signing_key)

    def _now(self, now: int | None) -> int:
        t = self._clock() if now is None else now
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < 2**40:
            raise InvalidArgument("now must be a Unix time in whole seconds")
        return t

    def _issue(self, record: Record) -> CredentialFile:
        claims = HolderClaims(
            credential_id=record.cert_id, issued_at=record.issued_at,
            expires_at=record.expires_at,
            device_key=DevicePublicKey.from_encoded(record.device_key),
            status=StatusRef(None, record.status_idx), region=record.region,
            insurance_type=record.insurance_type, channel=record.channel,
            masked_name=record.masked_name, subject_kind=record.subject_kind,
            actor_id=record.holder_id,
        )
        # The handle key Kd travels with the credential, to this phone only: its
        # presentations then carry a settlement handle the platform resolves.
        # The credential carries only its index (the compact status reference): the
        # terminal finds this issuer's list by the issuer; the file names the list.
        return CredentialFile.of(issue(claims, self.signing_key, self.group_key, self._random),
                                 claims, self._handles.holder_key(record.cert_id),
                                 self.status_uri)

    def activate(self, request: Activation, *, valid_days: int = DEFAULT_VALID_DAYS,
                 now: int | None = None) -> Issued:
        """Bind the device in ``request`` and issue its credential; the person's
        previous phone (and the delegations on it) is revoked in the same step."""
        t = self._now(now)
        if isinstance(valid_days, bool) or not isinstance(valid_days, int) or not (
            1 <= valid_days <= MAX_VALID_DAYS
        ):
            raise InvalidArgument(f"valid_days must be 1 to {MAX_VALID_DAYS}")
        record, file, revoked = self.registry.activate(request, t, t + valid_days * DAY,
                                                       self._issue)
        return Issued(file, record, tuple(revoked))

    def unbind(self, cert_id: str, *, now: int | None = None) -> list[int]:
        """Unbind the person's phone; the status indices now revoked."""
        return self.registry.unbind(cert_id, self._now(now))

    def add_family_member(self, holder_id: str, member: Activation, *,
                          now: int | None = None) -> Issued:
        """Bind ``member`` (at most five per holder) and issue the delegation to the
        holder's device: it names the member as subject, the holder as actor and the
        holder's device key, and ends with the holder's device credential."""
        t = self._now(now)
        device = self.registry.active_device(holder_id)
        expires = device.expires_at if device is not None else t + DAY
        record, file = self.registry.delegate(holder_id, member, t, expires, self._issue)
        return Issued(file, record)

    def remove_family_member(self, holder_id: str, member_id: str, *,
                             now: int | None = None) -> list[int]:
        """Unbind a member from the holder; the member's delegations on the holder's
        devices are revoked (their status indices are returned)."""
        return self.registry.remove_family_member(holder_id, member_id, self._now(now))

    def status_list(self, *, bits: int = 1, now: int | None = None,
                    valid_for: int = DEFAULT_LIST_VALIDITY,
                    ttl: int = DEFAULT_LIST_TTL) -> tuple[bytes, StatusList]:
        """The signed status list built from the registry, and its content."""
        t = self._now(now)
        if isinstance(valid_for, bool) or not isinstance(valid_for, int) or valid_for <= 0:
            raise InvalidArgument("valid_for must be positive seconds")
        size, revoked = self.registry.revoked()
        sl = StatusList(self.status_uri, t, t + valid_for, ttl, bits,
                        pack(dict.fromkeys(revoked, 1), size, bits), self.signing_key.issuer)
        return sign_status_list(sl, self.signing_key), sl
