"""``ecert replay init`` and ``ecert verify --replay-redis`` against a real redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis

from .conftest import NOW
from .redis_server import RedisServer


def ecert(*args: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-m", "ecert_token.cli.main", *args],
                          capture_output=True, text=True, timeout=60, check=False)
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_init_then_second_use_is_replayed_across_processes(
    redis_server: RedisServer, keydir_path: Path
) -> None:
    url = redis_server.url
    began = ecert("replay", "init", "--replay-redis", url, "--now", str(NOW - 3600))
    assert began == {"memory_began": NOW - 3600, "accepts_tokens_issued_after": NOW - 3595}
    client = redis.Redis.from_url(url)
    markers = [k for k in client.scan_iter(match="ecert:*!began")]
    assert len(markers) == 16 and {int(client.get(k) or 0) for k in markers} == {NOW - 3600}
    proc = subprocess.run(
        [sys.executable, "-m", "ecert_token.cli.main", "mint", "--keys", str(keydir_path),
         "--cert-id", "E4Q7ZK2M9PXA", "--region", "110105", "--business", "01101",
         "--now", str(NOW)], capture_output=True, text=True, check=True, timeout=60)
    token = proc.stdout.strip()
    verify = ("verify", "--keys", str(keydir_path), "--business", "01101",
              "--replay-redis", url, "--now", str(NOW + 5), token)
    first, second = ecert(*verify), ecert(*verify)
    assert first["replay_checked"] is True and first["credential_id"] == "E4Q7ZK2M9PXA"
    assert second["error"] == "replayed"


def test_without_init_the_first_token_is_fenced(
    redis_server: RedisServer, keydir_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ecert_token.cli.main", "mint", "--keys", str(keydir_path),
         "--cert-id", "E4Q7ZK2M9PXA", "--region", "110105", "--business", "01101",
         "--now", str(NOW)], capture_output=True, text=True, check=True, timeout=60)
    result = ecert("verify", "--keys", str(keydir_path), "--business", "01101",
                   "--replay-redis", redis_server.url, "--now", str(NOW + 5),
                   proc.stdout.strip())
    assert result["error"] == "possibly_replayed"


def test_init_with_redis_down_is_store_unavailable(tmp_path: Path) -> None:
    result = ecert("replay", "init", "--replay-redis", "redis://127.0.0.1:1/0")
    assert result["error"] == "store_unavailable"


def test_init_refuses_a_prefix_used_with_another_group_count(redis_server: RedisServer) -> None:
    """`replay init` honours the same one-group-count-per-prefix guard as every check."""
    from ecert_token import FixedClock
    from ecert_token.replay.redis import RedisReplayStore

    one = RedisReplayStore.from_url(redis_server.url, max_lifetime=305,
                                    clock=FixedClock(NOW), groups=1)
    one.begin_memory()
    one.close()
    result = ecert("replay", "init", "--replay-redis", redis_server.url)
    assert result["error"] == "store_unavailable"
