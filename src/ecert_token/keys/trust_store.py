"""The verifier's trust material: keys looked up by kid, never searched."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InvalidArgument
from .material import GroupKey, IssuerVerifyKey


class TrustStore:
    """Issuer verification keys and verifier-group AEAD keys, indexed by kid.

    A kid may appear once per kind; a second key under the same kid is
    refused, so a lookup is a single dict access at any size.  Only token
    keys enter: a trust-list root key (a different type) is refused.
    """

    __slots__ = ("_groups", "_issuers")

    def __init__(
        self, issuer_keys: Iterable[IssuerVerifyKey] = (), group_keys: Iterable[GroupKey] = ()
    ) -> None:
        if issuer_keys is None or group_keys is None:
            raise InvalidArgument("give key iterables (possibly empty), not None")
        self._issuers: dict[bytes, IssuerVerifyKey] = {}
        self._groups: dict[bytes, GroupKey] = {}
        for ik in issuer_keys:
            if not isinstance(ik, IssuerVerifyKey):
                raise InvalidArgument("issuer keys must be IssuerVerifyKey (public, bound)")
            if ik.kid in self._issuers:
                raise InvalidArgument("two issuer keys share one kid")
            self._issuers[ik.kid] = ik
        for gk in group_keys:
            if not isinstance(gk, GroupKey):
                raise InvalidArgument("group keys must be GroupKey")
            if gk.kid in self._groups:
                raise InvalidArgument("two group keys share one kid")
            self._groups[gk.kid] = gk

    def issuer_key(self, kid: bytes) -> IssuerVerifyKey | None:
        return self._issuers.get(kid)

    def group_key(self, kid: bytes) -> GroupKey | None:
        return self._groups.get(kid)

    @property
    def issuer_keys(self) -> tuple[IssuerVerifyKey, ...]:
        return tuple(self._issuers.values())

    @property
    def group_keys(self) -> tuple[GroupKey, ...]:
        return tuple(self._groups.values())

    def __len__(self) -> int:
        return len(self._issuers) + len(self._groups)
