"""``ecert replay init``: start a replay store's memory before the first code arrives.

A store that starts empty cannot know which tokens were used before it
started, so it refuses (``possibly_replayed``) every token issued up to one
leeway after its memory began.  A terminal or service creates its store when
it is installed, not at the first scan; this command does that for a SQLite
file or a Redis server.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..replay.sqlite import SqliteReplayStore
from .output import EXIT_OK, emit
from .verifying import policy_at


def cmd_replay_init(args: argparse.Namespace) -> int:
    policy = policy_at(args.now)
    if args.replay_db:
        with SqliteReplayStore(
            Path(args.replay_db), max_lifetime=policy.replay_window, clock=policy.clock,
            leeway=policy.leeway,
        ) as db:
            began = db.memory_began
    else:
        from ..replay.redis import RedisReplayStore  # the redis extra, only when asked for

        store = RedisReplayStore.from_url(
            args.replay_redis, max_lifetime=policy.replay_window, clock=policy.clock,
            leeway=policy.leeway,
        )
        try:
            began = store.begin_memory()
        finally:
            store.close()
    emit({"memory_began": began, "accepts_tokens_issued_after": began + policy.leeway})
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``replay init`` to the ``ecert`` subcommands."""
    p = subparsers.add_parser("replay", help="manage replay stores")
    sub = p.add_subparsers(dest="replay_command", required=True, metavar="ACTION")
    init = sub.add_parser("init", help="create a replay store now, before codes are scanned")
    where = init.add_mutually_exclusive_group(required=True)
    where.add_argument("--replay-db", help="SQLite replay store file to create")
    where.add_argument("--replay-redis", help="Redis replay store URL (redis://host:port/0; "
                       "any node of a Redis Cluster)")
    init.add_argument("--now", type=int, help="the time its memory begins (default: now)")
    init.set_defaults(func=cmd_replay_init)
