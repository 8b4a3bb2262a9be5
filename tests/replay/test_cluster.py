"""replay/cluster.py without a server: URL parameters, the ack probe key, error mapping."""

from __future__ import annotations

import pytest

from ecert_token import InvalidArgument

cluster = pytest.importorskip("ecert_token.replay.cluster", reason="needs the redis extra")


@pytest.mark.parametrize(
    ("url", "plain", "is_cluster", "acks"),
    [
        ("redis://h:6379/0", "redis://h:6379/0", None, None),
        ("redis://h:7000?cluster=true", "redis://h:7000", True, None),
        ("redis://h:7000/0?cluster=1&replica_acks=2", "redis://h:7000/0", True, 2),
        ("rediss://u:p@h:7000/0?ssl_cert_reqs=none&cluster=no",
         "rediss://u:p@h:7000/0?ssl_cert_reqs=none", False, None),
        ("redis://h/0?replica_acks=0", "redis://h/0", None, 0),
    ],
)
def test_split_url_takes_out_the_store_parameters(
    url: str, plain: str, is_cluster: bool | None, acks: int | None
) -> None:
    options = cluster.split_url(url)
    assert (options.url, options.cluster, options.replica_acks) == (plain, is_cluster, acks)


def test_seeds_are_more_cluster_nodes() -> None:
    options = cluster.split_url("redis://a:7000/0?seeds=b:7001,[::1]:7002")
    assert options.url == "redis://a:7000/0" and options.cluster is True
    assert options.seeds == (("b", 7001), ("::1", 7002))


@pytest.mark.parametrize("url", ["redis://h?cluster=maybe", "redis://h?replica_acks=-1",
                                 "redis://h?seeds=b", "redis://h?seeds=b:x",
                                 "redis://h?seeds=b:1&cluster=false",
                                 "redis://h?replica_acks=17", "redis://h?replica_acks=x"])
def test_split_url_refuses_bad_values(url: str) -> None:
    with pytest.raises(InvalidArgument):
        cluster.split_url(url)


def test_the_ack_probe_key_is_in_the_slot_of_the_key() -> None:
    from redis.crc import key_slot

    for key in (b"ecert:{3}:!began", b"ecert:groups", b"site7:{15}:!began", b"{a}b"):
        probe = cluster._ack_key(key)
        assert probe is not None and probe != key
        assert key_slot(probe) == key_slot(key)


def test_cluster_enabled_reads_info() -> None:
    assert cluster.cluster_enabled(b"# Cluster\r\ncluster_enabled:1\r\n")
    assert not cluster.cluster_enabled("# Cluster\r\ncluster_enabled:0\r\n")


def test_jobs_are_values_and_a_dispatch_is_changed_only_through_its_methods() -> None:
    """A Job is frozen (it used to carry its reply and routing, mutable), and a call's
    progress lives in its Dispatch, whose attributes cannot be set from outside."""
    import dataclasses

    job = cluster.Job(("GET", b"k"), b"k")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.key = b"other"  # type: ignore[misc]
    dispatch = cluster.Dispatch([job, cluster.Job(("INFO",), None)], 1e18, None, 0)
    for name, value in (("deadline", 0.0), ("need_refresh", True), ("replica_acks", 2),
                        ("slot_map", None), ("jobs", []), ("reply", 1)):
        with pytest.raises(AttributeError):
            setattr(dispatch, name, value)
    (request,) = dispatch.requests()
    assert request.jobs == (0, 1) and request.commands == (("GET", b"k"), ("INFO",))
    dispatch.feed(request, [b"v", b"info"])
    assert dispatch.finished() and dispatch.replies() == [b"v", b"info"]
    assert job == cluster.Job(("GET", b"k"), b"k")  # the job itself did not change
    dispatch.require_acks(1)
    assert dispatch.replica_acks == 1
