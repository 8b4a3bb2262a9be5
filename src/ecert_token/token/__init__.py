"""Tokens: minting and verification."""

from .mint import Issuer
from .policy import VerifyPolicy
from .result import VerifiedToken
from .verify import Verifier

__all__ = ["Issuer", "VerifiedToken", "Verifier", "VerifyPolicy"]
