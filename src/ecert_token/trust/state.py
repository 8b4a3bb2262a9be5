"""The terminal's persisted trust state: the highest sequence number ever accepted.

Kept in a small JSON file written atomically (temporary file, fsync, rename),
next to a copy of the last good list, so a restart cannot be used to roll the
terminal back to an older list.  A state file that exists but cannot be read
is an error, never a reset: failing closed is the point of the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ErrorCode, TrustListError
from ..keys.files import write_file

FORMAT = "ecert-trust-state/1"
STATE_FILE = "trust-state.json"
LIST_FILE = "trust-list.cose"


def digest(data: bytes) -> str:
    """SHA-256 of the accepted list bytes, to recognise the same list again."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class TrustState:
    """Highest accepted sequence number, the digest of that list, and its root's kid.

    Sequence numbers count per root: after the pinned root is replaced (by a
    software update, the only way), the state of the old root no longer
    applies, so a leaked old root that signed a huge sequence number cannot
    lock terminals out of the new root's lists.
    """

    sequence: int
    digest: str
    root_kid: str


def load_state(directory: str | os.PathLike[str]) -> TrustState | None:
    """The persisted state, None when the directory has none yet."""
    path = Path(directory) / STATE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        raise TrustListError(ErrorCode.TRUST_LIST_INVALID, f"cannot read {path.name}") from None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if (
        not isinstance(value, dict)
        or value.get("format") != FORMAT
        or type(value.get("sequence")) is not int
        or value["sequence"] < 0
        or not isinstance(value.get("digest"), str)
        or not isinstance(value.get("root_kid"), str)
    ):
        raise TrustListError(ErrorCode.TRUST_LIST_INVALID, "the trust state file is corrupt")
    return TrustState(value["sequence"], value["digest"], value["root_kid"])


def save_state(directory: str | os.PathLike[str], state: TrustState, list_bytes: bytes) -> None:
    """Write the list copy, then the state (each atomic).

    If the process dies between the two, the next start finds a list newer
    than the state and accepts it as if offered again; never the reverse.
    A write that fails is an error: a list whose sequence cannot be
    persisted is not adopted (a restart could otherwise roll it back).
    """
    directory = Path(directory)
    record = {"format": FORMAT, "sequence": state.sequence, "digest": state.digest,
              "root_kid": state.root_kid}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_file(directory / LIST_FILE, list_bytes, 0o644)
        write_file(directory / STATE_FILE,
                   (json.dumps(record, sort_keys=True) + "\n").encode(), 0o644)
    except OSError:
        raise TrustListError(
            ErrorCode.TRUST_LIST_INVALID, f"cannot persist the trust state in {directory.name}/"
        ) from None


def load_saved_list(directory: str | os.PathLike[str]) -> bytes | None:
    try:
        return (Path(directory) / LIST_FILE).read_bytes()
    except OSError:
        return None
