"""The trust list's content: what the national root vouches for, as strict CBOR.

Payload (a CBOR map with integer keys, deterministic encoding)::

    {1: version (1), 2: sequence, 3: issued_at, 4: expires_at,
     5: [issuer entry, ...], 6: [group entry, ...], ? 7: [terminal entry, ...]}
    issuer entry: {1: issuer, 2: COSE_Key (OKP Ed25519 or EC2 SM2, public), 3: state,
                   ? 4: not_before, ? 5: not_after, ? 6: [province prefix, ...]}
    group entry:  {1: group, 2: kid, 3: state, ? 4: not_before, ? 5: not_after}
    terminal entry: {1: terminal filing number, 2: COSE_Key (OKP Ed25519, public),
                     3: state, ? 4: not_before, ? 5: not_after, 7: institution code}

Terminal entries (issue #14) name the keys with which terminals sign
verification receipts and visit vouchers; a list without terminals has no
key 7, so its bytes are those of a list made before terminals existed.

Issuer keys travel as public keys with their whole binding: window, state
and the provinces each may issue for (absent means nationwide).  A list may
mix Ed25519 and SM2 issuers (keys/cose_key.py gives both shapes), and name
AES-CCM and SM4 group keys alike (a descriptor carries no algorithm: the
provisioned key does).

Verifier-group AEAD keys are secrets and never travel in the list, in clear
or otherwise: a list is public and copied to every terminal, and a list that
carried wrapped group keys would need per-terminal wrapping keys anyway.
Group keys are provisioned to each terminal group separately (COSE_Key files,
0600).  The list carries only their *descriptors* (group, kid, window,
state), so the root can revoke or end a group key nationwide; a provisioned
key takes its window and state from the list when the list names it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from ..codec import cbor
from ..codec.cbor import CBORError
from ..crypto.ed25519 import Ed25519PublicKey
from ..errors import EcertError, ErrorCode, KeyMaterialError, TrustListError
from ..keys.cose_key import (
    issuer_public_cose_map,
    okp_public_from_map,
    public_from_map,
    terminal_public_cose_map,
)
from ..keys.material import (
    ALWAYS,
    GroupKey,
    IssuerVerifyKey,
    KeyState,
    Validity,
    validate_kid,
    validate_name,
)
from ..keys.terminal import TerminalKey
from ..keys.trust_store import TrustStore

VERSION = 1
MAX_ENTRIES = 10_000
_MAX_TIME = 2**40

_VER, _SEQ, _IAT, _EXP, _ISSUERS, _GROUPS, _TERMINALS = 1, 2, 3, 4, 5, 6, 7
_NAME, _KEY, _STATE, _NBF, _NAF, _REGIONS, _INSTITUTION = 1, 2, 3, 4, 5, 6, 7
_PAYLOAD_KEYS = frozenset({_VER, _SEQ, _IAT, _EXP, _ISSUERS, _GROUPS})
_TERMINAL_REQUIRED = frozenset({_NAME, _KEY, _STATE, _INSTITUTION})
_TERMINAL_ALLOWED = _TERMINAL_REQUIRED | {_NBF, _NAF}
_ISSUER_REQUIRED = frozenset({_NAME, _KEY, _STATE})
_ISSUER_ALLOWED = _ISSUER_REQUIRED | {_NBF, _NAF, _REGIONS}
_GROUP_ALLOWED = frozenset({_NAME, _KEY, _STATE, _NBF, _NAF})


@dataclass(frozen=True, slots=True)
class GroupKeyInfo:
    """A verifier-group key as the trust list names it: everything but the secret."""

    group: str
    kid: bytes
    validity: Validity = ALWAYS
    state: KeyState = KeyState.PRIMARY

    def __post_init__(self) -> None:
        validate_name(self.group, "group")
        validate_kid(self.kid)
        if not isinstance(self.state, KeyState):
            raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "state must be a KeyState")

    @classmethod
    def of(cls, key: GroupKey) -> GroupKeyInfo:
        return cls(key.group, key.kid, key.validity, key.state)


@dataclass(frozen=True, slots=True)
class TrustList:
    """A verified (or about to be signed) trust list."""

    sequence: int
    issued_at: int
    expires_at: int
    issuer_keys: tuple[IssuerVerifyKey, ...]
    group_keys: tuple[GroupKeyInfo, ...] = ()
    terminal_keys: tuple[TerminalKey, ...] = ()

    def __post_init__(self) -> None:
        for name in ("sequence", "issued_at", "expires_at"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < _MAX_TIME:
                raise TrustListError(ErrorCode.TRUST_LIST_INVALID, f"{name} is out of range")
        if self.expires_at <= self.issued_at:
            raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "expires before it is issued")
        if len(self.issuer_keys) + len(self.group_keys) + len(self.terminal_keys) > MAX_ENTRIES:
            raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "too many entries")
        if not all(isinstance(k, IssuerVerifyKey) for k in self.issuer_keys) or not all(
            isinstance(g, GroupKeyInfo) for g in self.group_keys
        ) or not all(isinstance(t, TerminalKey) for t in self.terminal_keys):
            raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "entries have the wrong type")
        if len({t.kid for t in self.terminal_keys}) != len(self.terminal_keys):
            raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "two entries share one kid")
        if len({k.kid for k in self.issuer_keys}) != len(self.issuer_keys) or len(
            {g.kid for g in self.group_keys}
        ) != len(self.group_keys):
            raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "two entries share one kid")

    def group_info(self, kid: bytes) -> GroupKeyInfo | None:
        for info in self.group_keys:
            if info.kid == kid:
                return info
        return None

    def trust_store(self, group_keys: Iterable[GroupKey] = ()) -> TrustStore:
        """The listed issuer keys plus locally provisioned group keys.

        A provisioned key that the list names takes the list's window and
        state (so a key revoked nationally is revoked here); it must belong
        to the group the list says.  Keys the list does not name are used as
        provisioned.
        """
        return TrustStore(self.issuer_keys, (self._bind(k) for k in group_keys))

    def _bind(self, key: GroupKey) -> GroupKey:
        info = self.group_info(key.kid)
        if info is None:
            return key
        if info.group != key.group:
            raise KeyMaterialError(
                ErrorCode.KEY_FILE, "a provisioned group key is listed for another group"
            )
        return dataclasses.replace(key, validity=info.validity, state=info.state)


def build_trust_list(
    sequence: int,
    issued_at: int,
    expires_at: int,
    issuer_keys: Iterable[IssuerVerifyKey],
    group_keys: Iterable[GroupKey | GroupKeyInfo] = (),
    *,
    terminal_keys: Iterable[TerminalKey] = (),
) -> TrustList:
    """A trust list from key bindings; group secrets are dropped, only descriptors stay."""
    infos = tuple(GroupKeyInfo.of(g) if isinstance(g, GroupKey) else g for g in group_keys)
    return TrustList(sequence, issued_at, expires_at, tuple(issuer_keys), infos,
                     tuple(terminal_keys))


def _window(entry: dict[int, object], v: Validity) -> None:
    if v.not_before is not None:
        entry[_NBF] = v.not_before
    if v.not_after is not None:
        entry[_NAF] = v.not_after


def encode_payload(tl: TrustList) -> bytes:
    """Deterministic CBOR of the list's content (what the root signs)."""
    issuers: list[object] = []
    for k in tl.issuer_keys:
        entry: dict[int, object] = {_NAME: k.issuer, _KEY: issuer_public_cose_map(k),
                                    _STATE: k.state.value}
        _window(entry, k.validity)
        if k.regions is not None:
            entry[_REGIONS] = sorted(k.regions)
        issuers.append(entry)
    groups: list[object] = []
    for g in tl.group_keys:
        gentry: dict[int, object] = {_NAME: g.group, _KEY: g.kid, _STATE: g.state.value}
        _window(gentry, g.validity)
        groups.append(gentry)
    payload: dict[int, object] = {_VER: VERSION, _SEQ: tl.sequence, _IAT: tl.issued_at,
                                  _EXP: tl.expires_at, _ISSUERS: issuers, _GROUPS: groups}
    if tl.terminal_keys:
        terminals: list[object] = []
        for t in tl.terminal_keys:
            tentry: dict[int, object] = {
                _NAME: t.terminal_id, _KEY: terminal_public_cose_map(t),
                _STATE: t.state.value, _INSTITUTION: t.institution}
            _window(tentry, t.validity)
            terminals.append(tentry)
        payload[_TERMINALS] = terminals
    return cbor.dumps(payload)


def _invalid(detail: str) -> TrustListError:
    return TrustListError(ErrorCode.TRUST_LIST_INVALID, detail)


def _entry(value: object, required: frozenset[int], allowed: frozenset[int]) -> dict[int, object]:
    if not cbor.has_int_keys(value) or not required <= value.keys() <= allowed:
        raise _invalid("an entry has missing or unknown fields")
    return value


def _time(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value < _MAX_TIME:
        raise _invalid("a time is out of range")
    return value


def _binding(entry: dict[int, object]) -> tuple[str, KeyState, Validity]:
    name, state = entry[_NAME], entry[_STATE]
    if type(name) is not str or type(state) is not str:
        raise _invalid("an entry has fields of the wrong type")
    try:
        return (validate_name(name, "name"), KeyState(state),
                Validity(_time(entry.get(_NBF)), _time(entry.get(_NAF))))
    except (ValueError, EcertError):
        raise _invalid("an entry has invalid values") from None


def _listed_key(key_map: dict[object, object], what: str) -> tuple[bytes, Ed25519PublicKey]:
    """``(kid, public key)`` of a listed key's COSE_Key map; a weak key is WEAK_KEY."""
    try:
        return okp_public_from_map(key_map)
    except KeyMaterialError as exc:
        if exc.code is ErrorCode.WEAK_KEY:
            raise TrustListError(ErrorCode.WEAK_KEY, f"a listed {what} key is weak") from None
        raise _invalid(f"a listed {what} key is not an Ed25519 COSE_Key") from None


def _issuer(value: object) -> IssuerVerifyKey:
    entry = _entry(value, _ISSUER_REQUIRED, _ISSUER_ALLOWED)
    name, state, validity = _binding(entry)
    key_map = entry[_KEY]
    if type(key_map) is not dict:
        raise _invalid("an issuer key is not a COSE_Key map")
    try:
        kid, public = public_from_map(key_map)
    except KeyMaterialError as exc:
        if exc.code is ErrorCode.WEAK_KEY:
            raise TrustListError(ErrorCode.WEAK_KEY, "a listed issuer key is weak") from None
        raise _invalid("an issuer key is not an Ed25519 or SM2 COSE_Key") from None
    regions: frozenset[str] | None = None
    if _REGIONS in entry:
        raw = entry[_REGIONS]
        if type(raw) is not list or not all(type(r) is str for r in raw) or (
            len(set(raw)) != len(raw)
        ):
            raise _invalid("regions must be a list of distinct province prefixes")
        regions = frozenset(raw)
    try:
        return IssuerVerifyKey(name, kid, public, regions, validity, state)
    except EcertError:
        raise _invalid("an issuer entry has invalid values") from None


def _group(value: object) -> GroupKeyInfo:
    entry = _entry(value, frozenset({_NAME, _KEY, _STATE}), _GROUP_ALLOWED)
    name, state, validity = _binding(entry)
    kid = entry[_KEY]
    if type(kid) is not bytes or not 1 <= len(kid) <= 16:
        raise _invalid("a group kid must be 1 to 16 bytes")
    return GroupKeyInfo(name, kid, validity, state)


def load_map(data: bytes, max_depth: int, keys: frozenset[int], what: str) -> dict[int, object]:
    """One strict CBOR map with exactly ``keys`` (integers, never ``true`` for 1), else
    ``TRUST_LIST_INVALID``."""
    try:
        value = cbor.loads(data, max_depth=max_depth)
    except CBORError:
        raise _invalid(f"{what} is not strict CBOR") from None
    if not cbor.has_int_keys(value) or value.keys() != keys:
        raise _invalid(f"{what} has missing or unknown fields")
    return value


def _terminal(value: object) -> TerminalKey:
    entry = _entry(value, _TERMINAL_REQUIRED, _TERMINAL_ALLOWED)
    name, state, validity = _binding(entry)
    key_map, institution = entry[_KEY], entry[_INSTITUTION]
    if type(key_map) is not dict or type(institution) is not str:
        raise _invalid("a terminal entry has fields of the wrong type")
    kid, public = _listed_key(key_map, "terminal")
    try:
        return TerminalKey(name, institution, kid, public, validity, state)
    except EcertError:
        raise _invalid("a terminal entry has invalid values") from None


def decode_payload(payload: bytes) -> TrustList:
    """Parse a payload strictly; every fault is a :class:`TrustListError`."""
    terminals: list[object] = []
    try:
        value = load_map(payload, 4, _PAYLOAD_KEYS, "payload")
    except TrustListError:
        value = load_map(payload, 4, _PAYLOAD_KEYS | {_TERMINALS}, "payload")
        listed = value[_TERMINALS]
        if type(listed) is not list or not listed:
            raise _invalid("terminal keys must be a non-empty array") from None
        terminals = listed
    if type(value[_VER]) is not int or value[_VER] != VERSION:
        raise _invalid("unsupported trust list version")
    issuers, groups = value[_ISSUERS], value[_GROUPS]
    if type(issuers) is not list or type(groups) is not list:
        raise _invalid("key lists must be arrays")
    if len(issuers) + len(groups) + len(terminals) > MAX_ENTRIES:
        raise _invalid("too many entries")
    seq, iat, exp = value[_SEQ], value[_IAT], value[_EXP]
    if type(seq) is not int or type(iat) is not int or type(exp) is not int:
        raise _invalid("sequence and times must be integers")
    return TrustList(seq, iat, exp, tuple(_issuer(i) for i in issuers),
                     tuple(_group(g) for g in groups), tuple(_terminal(t) for t in terminals))
