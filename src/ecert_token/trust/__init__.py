"""Offline trust: the national root's signed trust list and a terminal's loader.

Build and sign on the platform (:func:`build_trust_list`,
:func:`sign_trust_list`); verify and keep on terminals
(:class:`TrustListLoader`, :func:`verify_trust_list`).
"""

from .envelope import read_unverified, sign_trust_list, verify_trust_list
from .listing import GroupKeyInfo, TrustList, build_trust_list
from .loader import Staleness, TrustListLoader
from .root import RootSigningKey, TrustRoot, load_root_signing_key, load_trust_root, save_root

__all__ = [
    "GroupKeyInfo",
    "RootSigningKey",
    "Staleness",
    "TrustList",
    "TrustListLoader",
    "TrustRoot",
    "build_trust_list",
    "load_root_signing_key",
    "load_trust_root",
    "read_unverified",
    "save_root",
    "sign_trust_list",
    "verify_trust_list",
]
