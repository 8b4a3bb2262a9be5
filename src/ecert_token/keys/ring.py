"""Key rings: every key of one issuer (or one verifier group), exactly one of them minting.

Rotation without downtime (the Fernet ``MultiFernet`` idea with explicit
windows): :meth:`KeyRing.rotate` makes a new key the primary and turns the old
primary into a verify-only key whose ``not_after`` is the rotation time.  The
verifier checks a key's window against the token's ``iat``, so every token the
old key made before the rotation still verifies until its own ``exp`` (at most
five minutes later), and nothing that claims a later ``iat`` does.  A revoked
key is kept in the ring, so its tokens fail with ``KEY_REVOKED`` rather than
``UNKNOWN_KEY``, until :meth:`KeyRing.prune` drops it.

Rings are immutable: each operation returns a new ring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from ..errors import InvalidArgument
from .material import GroupKey, IssuerSigningKey, IssuerVerifyKey, KeyState, Validity

K = TypeVar("K", IssuerSigningKey, IssuerVerifyKey, GroupKey)


def owner_of(key: IssuerSigningKey | IssuerVerifyKey | GroupKey) -> str:
    """The issuer or group a key belongs to."""
    return key.group if isinstance(key, GroupKey) else key.issuer


class KeyRing(Generic[K]):
    """The keys of one owner (issuer or verifier group), indexed by kid.

    At most one key is ``PRIMARY``; a ring used for minting needs exactly
    one (:attr:`primary`).  Kids are unique.  All keys belong to one owner.
    """

    __slots__ = ("_keys",)
    _keys: dict[bytes, K]

    def __init__(self, keys: Iterable[K]) -> None:
        ordered: dict[bytes, K] = {}
        owners: set[str] = set()
        kinds: set[type] = set()
        for key in keys:
            if not isinstance(key, IssuerSigningKey | IssuerVerifyKey | GroupKey):
                raise InvalidArgument("a key ring holds issuer or group keys")
            if key.kid in ordered:
                raise InvalidArgument("two keys in a ring share one kid")
            ordered[key.kid] = key
            owners.add(owner_of(key))
            kinds.add(type(key))
        if len(owners) > 1 or len(kinds) > 1:
            raise InvalidArgument("a key ring holds keys of one kind and one owner")
        if sum(1 for k in ordered.values() if k.state is KeyState.PRIMARY) > 1:
            raise InvalidArgument("a key ring has at most one primary key")
        self._keys = ordered

    @property
    def owner(self) -> str | None:
        """The issuer or group name, None for an empty ring."""
        for key in self._keys.values():
            return owner_of(key)
        return None

    @property
    def primary(self) -> K:
        """The one key that mints (or that minters encrypt to)."""
        for key in self._keys.values():
            if key.state is KeyState.PRIMARY:
                return key
        raise InvalidArgument("the key ring has no primary key")

    @property
    def keys(self) -> tuple[K, ...]:
        return tuple(self._keys.values())

    def get(self, kid: bytes) -> K | None:
        return self._keys.get(kid)

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyRing) and self.keys == other.keys

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value type: not hashable

    def __repr__(self) -> str:
        states = ", ".join(f"{k.kid.hex()}:{k.state.value}" for k in self._keys.values())
        return f"KeyRing(owner={self.owner!r}, [{states}])"

    def add(self, key: K) -> KeyRing[K]:
        """Add a key as it is (for example a successor published early as verify-only)."""
        keys: list[K] = list(self._keys.values())
        keys.append(key)
        return KeyRing(keys)

    def rotate(self, new: K, now: int) -> KeyRing[K]:
        """Make ``new`` the primary from ``now``; the old primary only verifies.

        ``new`` may be a key already in the ring (staged earlier, so terminals
        knew it before it minted) or a new one.  The old primary's window
        ends at ``now``: its tokens, all issued at or before ``now``, verify
        until they expire.
        """
        if isinstance(now, bool) or not isinstance(now, int) or now < 0:
            raise InvalidArgument("now must be a Unix time")
        staged = self._keys.get(new.kid)
        if staged is not None and staged.state is KeyState.REVOKED:
            raise InvalidArgument("a revoked key cannot become primary")
        if not new.validity.contains(now):
            raise InvalidArgument("the new key's window does not contain now")
        out: list[K] = []
        for key in self._keys.values():
            if key.kid == new.kid:
                continue
            out.append(_retire(key, now) if key.state is KeyState.PRIMARY else key)
        out.append(dataclasses.replace(new, state=KeyState.PRIMARY))
        return KeyRing(out)

    def revoke(self, kid: bytes) -> KeyRing[K]:
        """Mark a key revoked: its tokens are refused at once, whatever their age."""
        if kid not in self._keys:
            raise InvalidArgument("no key with that kid in the ring")
        return KeyRing(
            dataclasses.replace(k, state=KeyState.REVOKED) if k.kid == kid else k
            for k in self._keys.values()
        )

    def prune(self, now: int, grace: int) -> KeyRing[K]:
        """Drop keys whose window ended more than ``grace`` seconds before ``now``.

        With ``grace`` at least the longest token lifetime plus leeway, no
        token of a dropped key could still be valid.  The primary is kept.
        """
        def keep(k: K) -> bool:
            end = k.validity.not_after
            return k.state is KeyState.PRIMARY or end is None or end + grace >= now

        return KeyRing(k for k in self._keys.values() if keep(k))


def _retire(key: K, now: int) -> K:
    """The old primary: verify-only, window closed at ``now``."""
    v = key.validity
    end = now if v.not_after is None else min(v.not_after, now)
    if v.not_before is not None and end < v.not_before:
        end = v.not_before
    return dataclasses.replace(
        key, state=KeyState.VERIFY_ONLY, validity=Validity(v.not_before, end)
    )
