"""Fuzz trust-list loading (``trust/loader.py``, ``trust/listing.py``) on arbitrary bytes.

Only ``EcertError`` may come out.  Byte 0 picks the entry point, the rest is
its input:

0. ``TrustListLoader.offer``: a signed list as a terminal receives it;
1. ``listing.decode_payload``: the payload parser (normally reached only
   behind the root's signature, so fuzzed directly too);
2. ``envelope.read_unverified``: the inspection path (``ecert trust show``);
3. the payload signed by the pinned root, then offered: every payload the
   fuzzer makes reaches the parser and the trust store *through* a valid
   signature, as a compromised or buggy list builder would send it;
4. a restart: the bytes as the persisted ``trust-state.json`` beside a valid
   saved list, read by ``TrustListLoader(root, state_dir)``;
5. a restart with a valid state file and the bytes as the saved list;
6. ``TrustRoot.from_cose_key``: the pinned root's COSE_Key file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

with common.instrumented():
    from fixtures import KEYS, NOW, ROOT, ROOT_KEY, signed_list

    from ecert_token import EcertError, TrustListLoader, TrustRoot
    from ecert_token.trust import state
    from ecert_token.trust.envelope import read_unverified, sign_payload
    from ecert_token.trust.listing import decode_payload

NAME = "trust_list"
STATE_DIR = common.scratch_directory("ecert-fuzz-trust-")
common.quiet_logs()
VALID_LIST = signed_list()
VALID_STATE = (json.dumps({
    "format": state.FORMAT, "sequence": 5, "digest": state.digest(VALID_LIST),
    "root_kid": ROOT.kid.hex(),
}) + "\n").encode()


def restart(state_bytes: bytes, list_bytes: bytes) -> None:
    (STATE_DIR / state.STATE_FILE).write_bytes(state_bytes)
    (STATE_DIR / state.LIST_FILE).write_bytes(list_bytes)
    loader = TrustListLoader(ROOT, STATE_DIR, group_keys=[KEYS.group_key], clock=lambda: NOW)
    if loader.current is not None:
        loader.trust_store(NOW)


def offer(data: bytes) -> None:
    loader = TrustListLoader(ROOT, group_keys=[KEYS.group_key], clock=lambda: NOW)
    loader.offer(data, NOW)
    loader.live().routes()


ENTRY_POINTS = (
    offer,
    decode_payload,
    read_unverified,
    lambda data: offer(sign_payload(data, ROOT_KEY)),
    lambda data: restart(data, VALID_LIST),
    lambda data: restart(VALID_STATE, data),
    TrustRoot.from_cose_key,
)


one_input = common.dispatch(ENTRY_POINTS, EcertError)


if __name__ == "__main__":
    common.main(NAME, one_input)
