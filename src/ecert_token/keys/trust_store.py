"""The verifier's trust material: keys looked up by kid, never searched."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InvalidArgument
from .material import GroupKey, IssuerVerifyKey
from .routes import Routes, build_routes


class TrustStore:
    """Issuer verification keys and verifier-group AEAD keys, indexed by kid.

    A kid may appear once per kind; a second key under the same kid is
    refused, so a lookup is a single dict access at any size.  Only token
    keys enter: a trust-list root key (a different type) is refused.
    """

    __slots__ = ("_groups", "_issuers", "_routes")

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
        cls = type(self)
        # Routes answer exactly what the two lookups below answer; a subclass
        # that changes the lookups gets none (the verifier then takes the
        # general path) unless it provides routes() itself.
        plain = (cls.issuer_key is TrustStore.issuer_key
                 and cls.group_key is TrustStore.group_key)
        self._routes = (build_routes(self._issuers.values(), self._groups.values())
                        if plain else None)

    def routes(self) -> Routes | None:
        """The keys by the exact header bytes that name them (see :mod:`.routes`),
        or None: then the verifier looks keys up by kid on its general path."""
        try:
            return self._routes
        except AttributeError:  # a subclass that never called __init__
            return None

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
