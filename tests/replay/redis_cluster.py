"""A throwaway 6-node Redis Cluster (3 masters + 3 replicas) on free loopback ports.

Six ``redis-server --cluster-enabled yes`` processes, joined by
``redis-cli --cluster create ... --cluster-replicas 1``; :meth:`Cluster.start`
returns once every node says ``cluster_state:ok``, agrees on who serves every
slot and every replica's link to its master is up.  No persistence, as for
:class:`~tests.replay.redis_server.RedisServer`.

Replicas authenticate to their masters as the ACL user ``repl`` (set on every
node before the cluster is formed), so a test can cut one replica's
replication link and keep it down: :meth:`Cluster.cut_replication` denies
``SYNC``/``PSYNC`` to that user on the master and kills its replica
connections (the replica keeps retrying and keeps being refused, while the
cluster bus still says both nodes are alive).

Tests use it through a module-scoped fixture (one cluster per module): it takes
a few seconds to form.  Under ``ECERT_REQUIRE_REDIS=1`` a cluster that cannot
start is a failure, not a skip.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .redis_server import (
    REDIS_NOW,
    REQUIRE_ENV,
    RedisServer,
    free_port,
    redis_missing,
    redis_required,
)

NOW = REDIS_NOW
"""The cluster tests' fixed "now" (after the real time: the store decides its
horizon by the server's clock; see ``redis_server.REDIS_NOW``)."""
DEADLINE = 1.0
"""The stores' ``timeout`` in the deadline tests (seconds)."""
SLACK = 1.5
"""How far past its deadline a call may end on a loaded machine (the deadline is the
property tested; the slack only absorbs scheduling)."""
START_TIMEOUT = 60.0
REPL_USER = "repl"
REPL_PASSWORD = "repl-secret-for-tests"
NODE_TIMEOUT_MS = 5000
"""``cluster-node-timeout``: long enough not to fail over spuriously on a busy CI
machine; tests that need a failover at a chosen moment force it (TAKEOVER)."""


def cluster_missing() -> str | None:
    """Why a Redis Cluster cannot be started here, or None when it can."""
    reason = redis_missing()
    if reason is None and shutil.which("redis-cli") is None:
        reason = "redis-cli is not on PATH (it forms the cluster)"
    return reason


class Node(RedisServer):
    """One ``redis-server`` of the cluster (cluster mode, its own bus port)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.bus_port = free_port()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, timeout: float = 2.0):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def run(self, *command: object) -> Any:
        """One command on a connection of its own."""
        client = self.client()
        try:
            return client.execute_command(*command)
        finally:
            client.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def replication(self) -> dict[str, Any]:
        client = self.client()
        try:
            info: dict[str, Any] = client.info("replication")
            return info
        finally:
            client.close()

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--cluster-port", str(self.bus_port),
                "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", str(self.directory / "nodes.conf"),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                "--daemonize", "no", "--loglevel", "warning",
                "--masteruser", REPL_USER, "--masterauth", REPL_PASSWORD,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_for_ping()
        self.run("ACL", "SETUSER", REPL_USER, "on", f">{REPL_PASSWORD}", "~*", "&*", "+@all")


@dataclass
class Cluster:
    """Start, query, break and stop a local Redis Cluster."""

    directory: Path
    masters: int = 3
    replicas_per_master: int = 1
    nodes: list[Node] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> None:
        count = self.masters * (1 + self.replicas_per_master)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.nodes = [Node(self.directory / f"node{i}") for i in range(count)]
        try:
            for node in self.nodes:
                node.start()
            self._create()
            self.wait_until_healthy()
        except BaseException:
            self.stop()
            raise

    def _create(self) -> None:
        proc = subprocess.run(
            ["redis-cli", "--cluster", "create", *(n.address for n in self.nodes),
             "--cluster-replicas", str(self.replicas_per_master), "--cluster-yes"],
            capture_output=True, text=True, timeout=START_TIMEOUT, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {proc.stdout[-500:]}")

    def wait_until_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Until every live node says ``cluster_state:ok``, all agree on the slot
        owners, and every replica of a live master has its link up."""
        deadline = time.monotonic() + timeout
        last = "not checked"
        while True:
            last = self._health()
            if last == "ok":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not become healthy: {last}")
            time.sleep(0.1)  # polling for the cluster to converge

    def _health(self) -> str:
        import redis

        views: set[tuple[tuple[int, int, int], ...]] = set()
        for node in self.nodes:
            if not node.alive():
                continue
            client = node.client(timeout=1.0)
            try:
                info = client.execute_command("CLUSTER", "INFO")
                if b"cluster_state:ok" not in info:
                    return f"{node.address} cluster_state not ok"
                views.add(_shards(client.execute_command("CLUSTER", "NODES")))
                replication = client.info("replication")
                if replication.get("role") == "slave" and (
                    replication.get("master_link_status") != "up"
                ):
                    return f"{node.address} replica link down"
            except redis.RedisError as exc:
                return f"{node.address} {type(exc).__name__}"
            finally:
                client.close()
        if len(views) != 1:
            return "nodes disagree on masters, slots or replicas"
        (view,) = views
        if sum(slots for _, slots, _ in view) != 16384:
            return "slots not covered"
        live = {n.port for n in self.nodes if n.alive()}
        if any(port not in live for port, _, _ in view):
            return "a dead master still serves slots"
        return "ok"

    def role(self, node: Node) -> str:
        return str(node.replication()["role"])

    def masters_now(self) -> list[Node]:
        return [n for n in self.nodes if n.alive() and self.role(n) == "master"]

    def replica_of(self, master: Node) -> Node:
        """The (first) live replica of ``master``."""
        for node in self.nodes:
            if node is master or not node.alive():
                continue
            info = node.replication()
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == master.port:
                return node
        raise LookupError("no live replica of that master")

    def master_of_key(self, key: bytes) -> Node:
        from redis.crc import key_slot

        return self.master_of_slot(key_slot(key))

    def master_of_slot(self, slot: int) -> Node:
        client = next(n for n in self.nodes if n.alive()).client()
        try:
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return next(n for n in self.nodes if n.port == int(master[1]))
        finally:
            client.close()
        raise LookupError("slot not served")

    def move_slot(self, slot: int, destination: Node, pause: float = 0.0) -> None:
        """Reshard one slot the way ``redis-cli --cluster reshard`` does: IMPORTING and
        MIGRATING, MIGRATE its keys a few at a time (``pause`` between batches, so
        clients meet ASK and TRYAGAIN), then SETSLOT NODE on every master."""
        source = self.master_of_slot(slot)
        if source is destination:
            return
        src, dst = source.client(timeout=10), destination.client(timeout=10)
        try:
            src_id = src.execute_command("CLUSTER", "MYID")
            dst_id = dst.execute_command("CLUSTER", "MYID")
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
            while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10):
                src.execute_command("MIGRATE", "127.0.0.1", destination.port, "", 0, 10000,
                                    "KEYS", *keys)
                time.sleep(pause)
            dst.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
            for node in self.masters_now():
                if node not in (source, destination):
                    node.run("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        finally:
            src.close()
            dst.close()

    def move_group_slots(self, prefix: str, groups: range, pause: float) -> list[int]:
        """Move the slot of each replay key group (``<prefix>:{<group>}:``) to the next
        master (by port); returns the slots moved."""
        from redis.crc import key_slot

        moved = []
        for group in groups:
            slot = key_slot(f"{prefix}:{{{group}}}:".encode())
            masters = sorted(self.masters_now(), key=lambda n: n.port)
            source = self.master_of_slot(slot)
            self.move_slot(slot, masters[(masters.index(source) + 1) % len(masters)], pause)
            moved.append(slot)
        return moved

    def groups_on(self, master: Node) -> set[int]:
        """The replay key groups (of 16) whose hash tag ``{g}`` lives on ``master``."""
        return {g for g in range(16) if self.master_of_key(f"{{{g}}}".encode()) is master}

    def master_with_replica(self) -> tuple[Node, Node]:
        """A live master that still has a live replica, and that replica."""
        for master in self.masters_now():
            try:
                return master, self.replica_of(master)
            except LookupError:
                continue
        raise LookupError("no master has a live replica any more")

    def replicated(self, master: Node) -> None:
        """Until everything written to ``master`` so far is on a replica."""
        client = master.client()
        try:
            pipe = client.pipeline(transaction=False)  # one connection: WAIT covers its write
            pipe.set(f"sync-probe{{{min(self.groups_on(master))}}}", 1)
            pipe.execute_command("WAIT", 1, 5000)
            if pipe.execute()[-1] < 1:
                raise RuntimeError("the replica did not catch up")
        finally:
            client.close()

    def cut_replication(self, master: Node, replica: Node) -> None:
        """Once ``replica`` has everything so far, deny the replication user SYNC/PSYNC on
        ``master`` and drop its replicas: they stay disconnected (and fall behind) until
        :meth:`restore_replication`."""
        self.replicated(master)
        master.run("ACL", "SETUSER", REPL_USER, "-sync", "-psync")
        master.run("CLIENT", "KILL", "TYPE", "replica")
        wait_for(lambda: replica.replication()["master_link_status"] == "down",
                 "the replication link to go down")

    def take_over(self, master: Node, replica: Node) -> None:
        """SIGKILL ``master`` and promote ``replica`` at once (CLUSTER FAILOVER TAKEOVER)."""
        self.kill(master)
        replica.run("CLUSTER", "FAILOVER", "TAKEOVER")
        wait_for(lambda: self.role(replica) == "master", "the replica's promotion")

    def restore_replication(self, master: Node) -> None:
        master.run("ACL", "SETUSER", REPL_USER, "+sync", "+psync")

    def kill(self, node: Node) -> None:
        """SIGKILL one node (no persistence: its data is gone)."""
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _shards(nodes: bytes | str) -> tuple[tuple[int, int, int], ...]:
    """A ``CLUSTER NODES`` reply as (master port, slots served, live replicas) per master
    that serves slots (parsed here, independently of the store's own parser)."""
    text = nodes.decode() if isinstance(nodes, bytes) else nodes
    lines = [line.split() for line in text.splitlines() if line.strip()]
    replicas: dict[str, int] = {}
    for fields in lines:
        if "slave" in fields[2] and "fail" not in fields[2].split(","):
            replicas[fields[3]] = replicas.get(fields[3], 0) + 1
    out = []
    for fields in lines:
        ranges = [f for f in fields[8:] if not f.startswith("[")]
        if "master" in fields[2] and ranges:
            slots = 0
            for r in ranges:
                first, _, last = r.partition("-")
                slots += int(last or first) - int(first) + 1
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            out.append((port, slots, replicas.get(fields[0], 0)))
    return tuple(sorted(out))


def begun_store(url: str, prefix: str, **options: Any) -> Any:
    """A ``RedisReplayStore`` on ``url`` whose memory began an hour before NOW."""
    from ecert_token import FixedClock
    from ecert_token.replay.redis import RedisReplayStore

    store = RedisReplayStore.from_url(url, max_lifetime=305, clock=FixedClock(NOW - 3600),
                                      prefix=prefix, **options)
    store.begin_memory()
    return store


def replay_ids(name: str, count: int, now: int, groups: set[int] | None = None) -> list[Any]:
    """``count`` replay entries valid at ``now``; all in the key ``groups`` (so on one
    master) when given."""
    import zlib

    from ecert_token.replay import ReplayEntry

    out: list[Any] = []
    i = 0
    while len(out) < count:
        token_id = f"{name}-{i}".encode()
        i += 1
        if groups is None or zlib.crc32(token_id) % 16 in groups:
            out.append(ReplayEntry("NHSA", token_id, now, now + 65))
    return out


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` (cluster state changes) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def started_cluster(directory: Path) -> Iterator[Cluster]:
    """Body of a module-scoped fixture: a healthy cluster, stopped afterwards.

    Skips when Redis cannot run here, fails instead under ECERT_REQUIRE_REDIS=1.
    """
    import pytest

    reason = cluster_missing()
    if reason is not None:
        if redis_required():
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires the Redis tests")
        pytest.skip(reason)
    cluster = Cluster(directory)
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        if redis_required():
            pytest.fail(f"cannot start a Redis Cluster: {exc}")
        pytest.skip(f"cannot start a Redis Cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
