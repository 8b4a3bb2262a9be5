"""Holder credentials: a device-bound credential, presentations minted offline on the phone,
family delegations, the status list that reaches offline terminals, and the terminal's check.

See docs/holder-credentials.md for the life of a credential and the wire format.
"""

from .challenge import new_challenge, verify_with_challenge
from .claims import HolderClaims, StatusRef
from .credential import CredentialFile, issue, seal, sign_credential
from .device import (
    DeviceKey,
    DevicePublicKey,
    load_device,
    load_device_public,
    new_device_key,
    save_device,
)
from .presentation import PREFIX, is_presentation, present
from .status_loader import DEFAULT_STALENESS, StatusListLoader
from .statuslist import StatusList, sign_status_list, verify_status_list
from .verify import PresentationVerifier, VerifiedPresentation

__all__ = [
    "DEFAULT_STALENESS",
    "PREFIX",
    "CredentialFile",
    "DeviceKey",
    "DevicePublicKey",
    "HolderClaims",
    "PresentationVerifier",
    "StatusList",
    "StatusListLoader",
    "StatusRef",
    "VerifiedPresentation",
    "is_presentation",
    "issue",
    "load_device",
    "load_device_public",
    "new_challenge",
    "new_device_key",
    "present",
    "save_device",
    "seal",
    "sign_credential",
    "sign_status_list",
    "verify_status_list",
    "verify_with_challenge",
]
