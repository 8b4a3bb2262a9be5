"""examples/fastapi_service: ``/healthz`` (liveness) and ``/readyz`` (the replay store
answers), over real HTTP under uvicorn, with a real redis-server and a real SQLite file
that go away and come back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ecert_token.replay import SqliteReplayStore
from tests.replay.conftest import need_redis
from tests.replay.redis_server import RedisServer

from .examples import EXAMPLES, ROOT
from .test_fastapi_example import free_port, wait_until_up


@contextmanager
def service(key_dir: Path, **env: str) -> Iterator[httpx.Client]:
    port = free_port()
    full = {**os.environ, "ECERT_KEYS": str(key_dir), "PYTHONPATH": str(ROOT / "src"), **env}
    for name in ("ECERT_REDIS_URL", "ECERT_REPLAY_DB"):
        if name not in env:
            full.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=EXAMPLES / "fastapi_service", env=full,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            wait_until_up(http, proc)
            yield http
    finally:
        proc.terminate()
        proc.wait(10)


def assert_not_ready(http: httpx.Client) -> None:
    answer = http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"] == "store_unavailable"
    assert http.get("/healthz").status_code == 200  # still alive: no store call


@pytest.mark.slow
def test_readyz_follows_a_redis_store(key_dir: Path, tmp_path: Path) -> None:
    need_redis()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        with service(key_dir, ECERT_REDIS_URL=redis.url) as http:
            assert http.get("/readyz").json() == {"status": "ready"}
            redis.stop()
            assert_not_ready(http)
            redis.start()  # same port
            assert http.get("/readyz").status_code == 200
    finally:
        redis.stop()


@pytest.mark.slow
def test_readyz_follows_a_sqlite_store(key_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "replay.db"
    SqliteReplayStore(db, clock=lambda: int(time.time()) - 3600).close()
    with service(key_dir, ECERT_REPLAY_DB=str(db)) as http:
        assert http.get("/readyz").status_code == 200
        db.unlink()  # deleted under the running service: it must not say it is ready
        assert_not_ready(http)


@pytest.mark.slow
def test_an_in_memory_store_is_always_ready(key_dir: Path) -> None:
    with service(key_dir) as http:
        assert http.get("/readyz").json() == {"status": "ready"}
        assert http.get("/healthz").json() == {"status": "ok"}
