"""Figures for the Redis replay stores on one server and on a Redis Cluster (JSON out).

Run from the repository root (needs ``redis-server`` and ``redis-cli``)::

    python benchmarks/replay_cluster.py --json replay-cluster.json

It starts a throwaway ``redis-server`` and 6-node clusters (3 masters + 3
replicas) on loopback ports (the test fixtures of ``tests/replay``) and
measures, in one run:

* **batch verify**: ``Verifier.verify_many`` on batches of fresh tokens with
  the memory store, one Redis, and the cluster with ``replica_acks=1`` (the
  default there) and ``replica_acks=0``; the rounds of the stores are
  interleaved, and each Redis store's throughput is given as a ratio of the
  memory store's: the median over rounds of the memory store's time divided by
  the store's time in the same round (paired, so that a load spike on a shared
  machine hits one round, not one store); goals: >= 0.8 for one Redis, >= 0.7
  for a cluster;
* **cost of replica acknowledgement**: one-id marks (median and p99 latency)
  and 64-id batches (marks per second) on the cluster, ``replica_acks=1``
  against ``0``, interleaved; the ratios are paired per round as above;
* **failover**: a replica whose replication link is cut (ACL denies its
  PSYNC) while codes are marked for ``--lag`` seconds, then its master is
  SIGKILLed and the replica takes over: codes accepted before the kill, and
  accepted again after, with and without replica acknowledgement; the window
  (kill until the shard accepts a new mark) for that forced takeover and for
  the cluster's own automatic failover.

Timings depend on the machine; the codes accepted twice do not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.* helpers

from ecert_token import BusinessType, FixedClock, Issuer, Verifier, VerifyPolicy
from ecert_token.errors import StoreUnavailable
from ecert_token.keys.keydir import generate
from ecert_token.replay import MarkResult, ReplayEntry, ReplayStore
from ecert_token.replay.redis import RedisReplayStore
from tests import conftest as shared
from tests.replay.redis_cluster import (
    NODE_TIMEOUT_MS,
    NOW,
    Cluster,
    Node,
    begun_store,
    replay_ids,
)
from tests.replay.redis_server import RedisServer

REG = BusinessType.HOSPITAL_REGISTRATION
FIRST = MarkResult.FIRST_USE


def redis_store(url: str, prefix: str = "ecert", **options: Any) -> RedisReplayStore:
    store: RedisReplayStore = begun_store(url, prefix, **options)
    return store


def batch_verify(single_url: str, cluster: Cluster, rounds: int, batch: int) -> dict[str, Any]:
    keys = generate(issuer="NHSA", group="national")
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW))
    credential = shared.sample_person()
    stores: dict[str, ReplayStore] = {
        "memory": shared.running_store(),
        "redis": redis_store(single_url),
        "cluster": redis_store(cluster.urls[0], prefix="bench"),
        "cluster_no_acks": redis_store(cluster.urls[0], prefix="bench0", replica_acks=0),
    }
    verifiers = {
        name: Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)), replay_store=s)
        for name, s in stores.items()
    }
    seconds: dict[str, list[float]] = {name: [] for name in stores}
    names = list(stores)
    for round_ in range(rounds + 1):  # round 0 warms up
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            tokens = [issuer.mint(credential, REG) for _ in range(batch)]
            started = time.perf_counter()
            results = verifiers[name].verify_many(tokens, REG)
            elapsed = time.perf_counter() - started
            if any(type(r).__name__ != "VerifiedToken" for r in results):
                raise RuntimeError(f"{name}: a fresh token was not accepted")
            if round_:
                seconds[name].append(elapsed)
    for store in stores.values():
        close = getattr(store, "close", None)
        if close is not None:
            close()
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    return {
        "batch": batch,
        "rounds": rounds,
        "tokens_per_second": {n: round(batch / m) for n, m in medians.items()},
        # Paired: each round's memory time over the same round's store time, then the
        # median of those; a load spike on a shared machine hits one round, not one store.
        "ratio_to_memory": {
            n: round(statistics.median(m / t for m, t in zip(seconds["memory"], s,
                                                              strict=True)), 3)
            for n, s in seconds.items()
        },
    }


def ids(name: str, count: int, groups: set[int] | None = None) -> list[ReplayEntry]:
    return replay_ids(name, count, NOW, groups)


def acks_cost(cluster: Cluster, rounds: int) -> dict[str, Any]:
    stores = {1: redis_store(cluster.urls[1], prefix="cost1"),
              0: redis_store(cluster.urls[1], prefix="cost0", replica_acks=0)}
    single: dict[int, list[list[float]]] = {1: [], 0: []}
    batches: dict[int, list[float]] = {1: [], 0: []}
    for round_ in range(rounds):
        for acks in ((1, 0) if round_ % 2 else (0, 1)):
            store = stores[acks]
            times = []
            for one in ids(f"one-{acks}-{round_}", 100):
                started = time.perf_counter()
                store.check_and_mark(one, NOW)
                times.append(time.perf_counter() - started)
            single[acks].append(times)
            started = time.perf_counter()
            for k in range(10):
                store.check_and_mark_many(ids(f"many-{acks}-{round_}-{k}", 64), NOW)
            batches[acks].append(time.perf_counter() - started)
    for store in stores.values():
        store.close()

    def summary(acks: int) -> dict[str, float]:
        lat = sorted(t for times in single[acks] for t in times)
        return {
            "one_id_median_us": round(statistics.median(lat) * 1e6, 1),
            "one_id_p99_us": round(lat[int(len(lat) * 0.99)] * 1e6, 1),
            "batch_64_marks_per_second": round(640 / statistics.median(batches[acks])),
        }

    # Paired per round, as for the batch verify ratios.
    latency = [statistics.median(a) / statistics.median(b)
               for a, b in zip(single[1], single[0], strict=True)]
    throughput = [b / a for a, b in zip(batches[1], batches[0], strict=True)]
    return {
        "replica_acks_1": summary(1),
        "replica_acks_0": summary(0),
        "latency_ratio": round(statistics.median(latency), 2),
        "throughput_ratio": round(statistics.median(throughput), 2),
    }


def first_mark_after(store: RedisReplayStore, groups: set[int], killed_at: float) -> float:
    """Seconds from the kill until the shard accepts a new mark."""
    attempt = 0
    while True:
        attempt += 1
        try:
            if store.check_and_mark(ids(f"probe-{killed_at}-{attempt}", 1, groups)[0],
                                    NOW) is FIRST:
                return time.monotonic() - killed_at
        except StoreUnavailable:
            pass
        if time.monotonic() - killed_at > 120:
            raise RuntimeError("the shard never came back")


def lagging_failover(cluster: Cluster, replica_acks: int, lag: float) -> dict[str, Any]:
    master, replica = cluster.master_with_replica()
    groups = cluster.groups_on(master)
    store = redis_store(next(n for n in cluster.nodes if n.alive() and n is not master).url,
                        prefix=f"lag{replica_acks}", replica_acks=replica_acks, timeout=0.25)
    cluster.cut_replication(master, replica)
    accepted: list[ReplayEntry] = []
    refused = 0
    ends = time.monotonic() + lag
    batch = 0
    while time.monotonic() < ends:
        codes = ids(f"lag{replica_acks}-{batch}", 8, groups)
        batch += 1
        try:
            results = store.check_and_mark_many(codes, NOW)
        except StoreUnavailable:
            refused += len(codes)
            continue
        accepted += [c for c, r in zip(codes, results, strict=True) if r is FIRST]
    killed_at = time.monotonic()
    cluster.take_over(master, replica)
    window = first_mark_after(store, groups, killed_at)
    store.close()
    cluster.wait_until_healthy()
    again = recheck(cluster, f"lag{replica_acks}", replica_acks, accepted)
    return {
        "replica_acks": replica_acks,
        "lag_seconds": lag,
        "accepted_before_kill": len(accepted),
        "refused_before_kill": refused,
        "accepted_twice": sum(r is FIRST for r in again),
        "window_seconds": round(window, 2),
    }


def recheck(
    cluster: Cluster, prefix: str, replica_acks: int, accepted: list[ReplayEntry]
) -> list[MarkResult]:
    """Mark again, after the failover, the codes accepted before it."""
    if not accepted:
        return []
    seed = next(n for n in cluster.nodes if n.alive())
    store = RedisReplayStore.from_url(seed.url, max_lifetime=305, clock=FixedClock(NOW),
                                      prefix=prefix, replica_acks=replica_acks, timeout=10.0)
    try:
        return store.check_and_mark_many(accepted, NOW)
    finally:
        store.close()


def automatic_failover(cluster: Cluster) -> dict[str, Any]:
    master, _ = cluster.master_with_replica()
    groups = cluster.groups_on(master)
    seed: Node = next(n for n in cluster.nodes if n.alive() and n is not master)
    store = redis_store(seed.url, prefix="auto", timeout=0.25)
    codes = ids("auto", 200, groups)
    accepted = [c for c, r in zip(codes, store.check_and_mark_many(codes, NOW), strict=True)
                if r is FIRST]
    killed_at = time.monotonic()
    cluster.kill(master)
    window = first_mark_after(store, groups, killed_at)
    store.close()
    cluster.wait_until_healthy()
    again = recheck(cluster, "auto", 1, accepted)
    return {
        "replica_acks": 1,
        "accepted_before_kill": len(accepted),
        "accepted_twice": sum(r is FIRST for r in again),
        "window_seconds": round(window, 2),
    }


def readme_table(report: dict[str, Any]) -> str:
    """The README's "Redis Cluster" table, from a report of this script."""
    ratios = report["batch_verify"]["ratio_to_memory"]
    cost = report["replica_acks_cost"]
    acks1, acks0 = cost["replica_acks_1"], cost["replica_acks_0"]
    lag0 = report["failover"]["lagging_replica_no_acks"]
    lag1 = report["failover"]["lagging_replica_default"]
    auto = report["failover"]["automatic_default"]
    batch = report["batch_verify"]["batch"]
    rows = [
        ("figure", "value"),
        (f"batch verify ({batch:,} tokens), one Redis, ratio to the memory store",
         f"{ratios['redis']:.2f}"),
        ("batch verify, cluster with `replica_acks=1` (default), ratio to memory",
         f"{ratios['cluster']:.2f}"),
        ("batch verify, cluster with `replica_acks=0`, ratio to memory",
         f"{ratios['cluster_no_acks']:.2f}"),
        ("one-id mark on the cluster, median, `replica_acks=1` / `0`",
         f"{acks1['one_id_median_us']:.0f} / {acks0['one_id_median_us']:.0f} us "
         f"({cost['latency_ratio']:.2f}x)"),
        ("one-id mark on the cluster, p99, `replica_acks=1` / `0`",
         f"{acks1['one_id_p99_us']:.0f} / {acks0['one_id_p99_us']:.0f} us"),
        ("64-id batches on the cluster, `replica_acks=1` / `0`",
         f"{acks1['batch_64_marks_per_second']:,} / {acks0['batch_64_marks_per_second']:,} "
         f"marks/s ({cost['throughput_ratio']:.2f}x)"),
        (f"replica lagging {lag0['lag_seconds']:g} s promoted, `replica_acks=0`: "
         "codes accepted twice / accepted",
         f"{lag0['accepted_twice']:,} / {lag0['accepted_before_kill']:,}"),
        (f"replica lagging {lag1['lag_seconds']:g} s promoted, default: "
         "codes accepted twice / accepted",
         f"{lag1['accepted_twice']:,} / {lag1['accepted_before_kill']:,} "
         f"({lag1['refused_before_kill']:,} refused, store_unavailable)"),
        ("automatic failover (replica in sync), default: accepted twice / accepted",
         f"{auto['accepted_twice']:,} / {auto['accepted_before_kill']:,}"),
        ("failover window, forced takeover / automatic "
         f"(node timeout {report['failover']['node_timeout_ms'] / 1000:g} s)",
         f"{lag1['window_seconds']:.2f} s / {auto['window_seconds']:.2f} s"),
    ]
    lines = [f"| {a} | {b} |" for a, b in rows]
    lines.insert(1, "|---|---:|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here (and to stdout)")
    parser.add_argument("--rounds", type=int, default=20, help="batch rounds per store")
    parser.add_argument("--batch", type=int, default=1024, help="tokens per verify_many")
    parser.add_argument("--lag", type=float, default=1.0, help="seconds of replica lag")
    parser.add_argument("--readme", type=Path, help="print the README table of this JSON")
    args = parser.parse_args(argv)
    if args.readme:
        print(readme_table(json.loads(args.readme.read_text())))
        return {}
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "command": "python benchmarks/replay_cluster.py " + " ".join(argv or sys.argv[1:]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "single")
        cluster = Cluster(Path(tmp) / "cluster")
        server.start()
        try:
            cluster.start()
            report["batch_verify"] = batch_verify(server.url, cluster, args.rounds, args.batch)
            report["replica_acks_cost"] = acks_cost(cluster, max(args.rounds // 2, 2))
        finally:
            cluster.stop()
            server.stop()
        failover = Cluster(Path(tmp) / "failover")
        failover.start()
        try:
            report["failover"] = {
                "node_timeout_ms": NODE_TIMEOUT_MS,
                "lagging_replica_no_acks": lagging_failover(failover, 0, args.lag),
                "lagging_replica_default": lagging_failover(failover, 1, args.lag),
                "automatic_default": automatic_failover(failover),
            }
        finally:
            failover.stop()
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
