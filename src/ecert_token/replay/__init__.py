"""Replay protection: a token id is accepted once."""

from .base import MarkResult, ReplayEntry, ReplayStore
from .memory import MemoryReplayStore

__all__ = ["MarkResult", "MemoryReplayStore", "ReplayEntry", "ReplayStore"]
