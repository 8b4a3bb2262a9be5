"""Keys and trust: key material with its binding, the trust store, key files."""

from .material import GroupKey, IssuerSigningKey, IssuerVerifyKey, KeyState, Validity
from .trust_store import TrustStore

__all__ = ["GroupKey", "IssuerSigningKey", "IssuerVerifyKey", "KeyState", "TrustStore", "Validity"]
