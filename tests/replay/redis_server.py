"""A throwaway ``redis-server`` on a free loopback port (for tests and benchmarks).

No persistence (``--save ''``, ``--appendonly no``), so a restart loses every
key, as a cache-style Redis would.  ``REQUIRE_ENV`` set to 1 turns "no
redis-server here" from a skip into a failure (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

REQUIRE_ENV = "ECERT_REQUIRE_REDIS"
REDIS_NOW = 2_000_000_000
"""The tests' fixed "now" wherever Redis is involved (2033-05-18), later than the
real time.  The Redis store decides its horizon (a token that expired, by the
server's own clock, more than the skew ago is refused) by the server's clock,
which tests cannot set: a verifier clock ahead of it never meets the horizon,
one behind it (the shared tests' 2026 date) would meet it at once.  Tests of
the horizon itself read the server's clock (``TIME``)."""
START_TIMEOUT = 10.0


def redis_missing() -> str | None:
    """Why Redis tests cannot run here, or None when they can."""
    if shutil.which("redis-server") is None:
        return "redis-server is not on PATH"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (the redis extra)"
    return None


def redis_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """Start, stop and restart one ``redis-server`` process bound to 127.0.0.1."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                "--daemonize", "no", "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_for_ping()

    def _wait_for_ping(self) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError("redis-server exited at start")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not answer PING")
                time.sleep(0.02)  # polling for start-up, not waiting for expiry
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start on the same port: every key is gone (no persistence)."""
        self.stop()
        self.start()
