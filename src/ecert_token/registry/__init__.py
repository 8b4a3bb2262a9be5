"""The issuing side's activation registry (SQLite) and the platform that issues from it."""

from .platform import HolderPlatform, Issued
from .store import Activation, ActivationRegistry, Record

__all__ = ["Activation", "ActivationRegistry", "HolderPlatform", "Issued", "Record"]
