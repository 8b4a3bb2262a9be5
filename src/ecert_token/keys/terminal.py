"""Terminal keys: a counter's or kiosk's own Ed25519 key, bound to its national
terminal filing number (终端备案号) and its institution (定点医药机构编号).

A terminal signs what it verified (receipts) and, when the platform is down,
visit vouchers (:mod:`ecert_token.settlement.records`).  The platform trusts a
terminal key because the trust list names it (payload key 7, see
:mod:`ecert_token.trust.listing`) or because it was registered directly.

The formats of filing numbers and institution codes are not pinned down
nationally in the material this project has; both are checked as 1 to 32
(filing number) and 1 to 20 (institution) characters of ``[0-9A-Z_-]``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..crypto.ed25519 import Ed25519PrivateKey, Ed25519PublicKey, thumbprint_kid
from ..errors import EcertError, ErrorCode, InvalidArgument, KeyMaterialError
from .files import ed25519_from_pem, ed25519_to_pem, read_private, write_file
from .material import ALWAYS, KID_BYTES, KeyState, Validity

_FILING = re.compile(r"[0-9A-Z_-]{1,32}")
_INSTITUTION = re.compile(r"[0-9A-Z_-]{1,20}")
TERMINAL_PEM = "terminal.key.pem"
TERMINAL_JSON = "terminal.pub.json"
_FORMAT = "ecert-terminal/1"


def validate_terminal_id(value: object) -> str:
    if not isinstance(value, str) or _FILING.fullmatch(value) is None:
        raise InvalidArgument("a terminal filing number is 1 to 32 of [0-9A-Z_-]")
    return value


def validate_institution(value: object) -> str:
    if not isinstance(value, str) or _INSTITUTION.fullmatch(value) is None:
        raise InvalidArgument("an institution code is 1 to 20 of [0-9A-Z_-]")
    return value


@dataclass(frozen=True, slots=True)
class TerminalKey:
    """A terminal's public key with its binding (what the platform trusts)."""

    terminal_id: str
    institution: str
    kid: bytes
    public_key: Ed25519PublicKey
    validity: Validity = ALWAYS
    state: KeyState = KeyState.PRIMARY

    def __post_init__(self) -> None:
        validate_terminal_id(self.terminal_id)
        validate_institution(self.institution)
        if not isinstance(self.kid, bytes) or len(self.kid) != KID_BYTES:
            raise InvalidArgument("a terminal kid is 4 bytes")
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise InvalidArgument("public_key must be an Ed25519PublicKey")
        if self.kid != thumbprint_kid(self.public_key.raw, KID_BYTES):
            raise InvalidArgument("a terminal kid is its key's thumbprint")
        if not isinstance(self.state, KeyState):
            raise InvalidArgument("state must be a KeyState")

    def to_json(self) -> dict[str, object]:
        return {"format": _FORMAT, "terminal_id": self.terminal_id,
                "institution": self.institution, "kid": self.kid.hex(),
                "public_key": self.public_key.raw.hex(), "state": self.state.value,
                "not_before": self.validity.not_before, "not_after": self.validity.not_after}

    @classmethod
    def from_json(cls, value: object) -> TerminalKey:
        """A terminal's public file (what :func:`save_terminal` writes); KEY_FILE if bad."""
        try:
            if not isinstance(value, dict) or value.get("format") != _FORMAT:
                raise KeyMaterialError(ErrorCode.KEY_FILE, "not a terminal public key file")
            return cls(value["terminal_id"], value["institution"], bytes.fromhex(value["kid"]),
                       Ed25519PublicKey(bytes.fromhex(value["public_key"])),
                       Validity(value.get("not_before"), value.get("not_after")),
                       KeyState(value.get("state", "primary")))
        except (KeyError, TypeError, ValueError, EcertError) as exc:
            if isinstance(exc, EcertError) and exc.code is ErrorCode.WEAK_KEY:
                raise
            raise KeyMaterialError(ErrorCode.KEY_FILE, "not a terminal public key file") from None


@dataclass(frozen=True, slots=True, repr=False)
class TerminalSigningKey:
    """A terminal's private key with its binding; ``public`` is what the platform lists."""

    terminal_id: str
    institution: str
    private_key: Ed25519PrivateKey = field(compare=False)

    def __post_init__(self) -> None:
        validate_terminal_id(self.terminal_id)
        validate_institution(self.institution)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise InvalidArgument("private_key must be an Ed25519PrivateKey")

    @property
    def kid(self) -> bytes:
        return thumbprint_kid(self.private_key.public_key.raw, KID_BYTES)

    @property
    def public(self) -> TerminalKey:
        return TerminalKey(self.terminal_id, self.institution, self.kid,
                           self.private_key.public_key)

    def __repr__(self) -> str:
        return f"TerminalSigningKey(terminal_id={self.terminal_id!r}, kid={self.kid.hex()})"


def new_terminal_key(
    terminal_id: str, institution: str, random_bytes: Callable[[int], bytes] = os.urandom
) -> TerminalSigningKey:
    """A fresh terminal key."""
    return TerminalSigningKey(terminal_id, institution, Ed25519PrivateKey(random_bytes(32)))


def save_terminal(key: TerminalSigningKey, directory: str | os.PathLike[str]) -> None:
    """``terminal.key.pem`` (0600) and ``terminal.pub.json`` (the public binding, 0644)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_file(directory / TERMINAL_PEM, ed25519_to_pem(key.private_key, None), 0o600)
    write_file(directory / TERMINAL_JSON,
               (json.dumps(key.public.to_json(), indent=2, sort_keys=True) + "\n").encode(),
               0o644)


def load_terminal(directory: str | os.PathLike[str]) -> TerminalSigningKey:
    """The terminal key a directory holds (refusing a private file others may read)."""
    directory = Path(directory)
    public = load_terminal_public(directory / TERMINAL_JSON)
    private = ed25519_from_pem(read_private(directory / TERMINAL_PEM), None)
    if private.public_key != public.public_key:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "terminal key files do not match")
    return TerminalSigningKey(public.terminal_id, public.institution, private)


def load_terminal_public(path: str | os.PathLike[str]) -> TerminalKey:
    """A terminal's public binding from its JSON file (or a directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / TERMINAL_JSON
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "cannot read a terminal public key") from None
    return TerminalKey.from_json(value)
