"""Keys: key material with its binding, key rings, the trust store, key files."""

from .material import GroupKey, IssuerSigningKey, IssuerVerifyKey, KeyState, Validity
from .ring import KeyRing
from .trust_store import TrustStore

__all__ = [
    "GroupKey",
    "IssuerSigningKey",
    "IssuerVerifyKey",
    "KeyRing",
    "KeyState",
    "TrustStore",
    "Validity",
]
