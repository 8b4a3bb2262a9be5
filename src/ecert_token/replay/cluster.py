"""Where the Redis replay store's commands go, and when a call is over.

The store sends its commands itself, to a single server or to the masters of
a Redis Cluster, instead of through redis-py's ``RedisCluster``: it must put
a ``WAIT`` on the very connection that ran its script (replica
acknowledgement, see :class:`Dispatch`), and one deadline must bound a whole
call, retries included.  This module holds everything but the sockets, so the
blocking and the asyncio store share it:

* :func:`split_url`: the store's own URL parameters (``cluster``,
  ``replica_acks``, ``seeds``), removed before redis-py sees the URL.
* :class:`SlotMap`: which master serves each hash slot, and how many replicas
  it has (from ``CLUSTER NODES``).
* :class:`Dispatch`: one store call as jobs (a command and the key that routes
  it); it groups them into one pipelined request per node, reads the replies,
  follows ``MOVED``/``ASK``, reloads a missing script, retries what a failover
  or a resharding makes fail for a moment (``TRYAGAIN``, ``CLUSTERDOWN``,
  ``READONLY``, ``LOADING``, lost connections) until the deadline, and fails
  closed (:class:`~ecert_token.errors.StoreUnavailable`) on everything else.

Replica acknowledgement: with ``acks`` > 0 each request ends in
``WAIT acks <ms left>``; if fewer replicas confirm the script's writes before
the deadline the call raises StoreUnavailable, even though the marks were
made (the verifier then refuses; an honest holder's retry is recognised by the
verifier's lost-reply memory).  A mark is therefore accepted only once it is
on a replica as well as on the master, so a replica promoted after the master
dies has it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import InvalidArgument, StoreUnavailable

try:
    from redis.crc import key_slot
    from redis.exceptions import (
        AskError,
        BusyLoadingError,
        ClusterDownError,
        MovedError,
        NoScriptError,
        ReadOnlyError,
        RedisError,
        ResponseError,
        TryAgainError,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the Redis replay store needs: pip install 'ecert-token[redis]'") from exc

Address = tuple[str, int]
Command = tuple[object, ...]

SLOTS = 16384
REFRESH_EVERY = 10.0
"""Seconds after which the slot map (and each master's replica count) is read again."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_TRANSIENT_REPLIES = (TryAgainError, ClusterDownError, ReadOnlyError, BusyLoadingError)
"""Replies a failover or a resharding gives for a moment: retry, within the deadline."""
TRANSPORT_ERRORS = (RedisError, OSError)
"""What sending a request may raise: the request is lost, retry it (its reply may have been lost
after the server ran it: the script then answers "replayed" and the mark stays single)."""


@dataclass(frozen=True, slots=True)
class UrlOptions:
    """A Redis URL with the store's own parameters taken out."""

    url: str
    cluster: bool | None
    """True or False when ``?cluster=`` says so, None to ask the server (``INFO cluster``)."""
    replica_acks: int | None
    """``?replica_acks=N``, or None for the default."""
    seeds: tuple[Address, ...] = ()
    """``?seeds=host:port,host:port``: more cluster nodes to ask for the slot map when
    the URL's own node does not answer (implies ``cluster=true``)."""


def split_url(url: str) -> UrlOptions:
    """Take ``cluster`` and ``replica_acks`` out of ``url``'s query string."""
    if not isinstance(url, str):
        raise InvalidArgument("the Redis URL must be a string")
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    cluster: bool | None = None
    acks: int | None = None
    seeds: tuple[Address, ...] = ()
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "cluster":
            if value.lower() in _TRUE:
                cluster = True
            elif value.lower() in _FALSE:
                cluster = False
            else:
                raise InvalidArgument("cluster= in a Redis URL must be true or false")
        elif name == "seeds":
            seeds = tuple(_address(part) for part in value.split(",") if part)
        elif name == "replica_acks":
            if not value.isdigit() or int(value) > 16:
                raise InvalidArgument("replica_acks= in a Redis URL must be 0 to 16")
            acks = int(value)
        else:
            kept.append((name, value))
    if seeds and cluster is False:
        raise InvalidArgument("seeds= in a Redis URL is for a cluster")
    return UrlOptions(urlunsplit(parts._replace(query=urlencode(kept))),
                      True if seeds else cluster, acks, seeds)


def _address(text: str) -> Address:
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument("seeds= in a Redis URL must be host:port,host:port")
    return host.strip("[]"), int(port)


def cluster_enabled(info: object) -> bool:
    """Does an ``INFO cluster`` reply say the server runs in cluster mode?"""
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    return "cluster_enabled:1" in text


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Shard:
    """One master and how many replicas it has (failed ones are not listed)."""

    master: Address
    replicas: int


class SlotMap:
    """Which shard serves each of the 16384 hash slots, from ``CLUSTER NODES``.

    ``CLUSTER NODES`` rather than ``CLUSTER SLOTS``: it lists every replica a node
    knows of (``CLUSTER SLOTS`` may leave out replicas it is not sure of yet), and
    the replica count decides how many acknowledgements a mark waits for.  A
    replica counts unless it is marked failed.
    """

    def __init__(self, reply: object, seed: Address, read_at: float) -> None:
        self._by_slot: list[Shard | None] = [None] * SLOTS
        masters: dict[str, tuple[Address, list[tuple[int, int]]]] = {}
        replicas: dict[str, int] = {}
        try:
            for line in _text(reply).splitlines():
                fields = line.split()
                if len(fields) < 8:
                    continue
                node_id, where, master_id = fields[0], fields[1], fields[3]
                flags = fields[2].split(",")
                if "slave" in flags:
                    if "fail" not in flags:
                        replicas[master_id] = replicas.get(master_id, 0) + 1
                    continue
                ranges = [_slot_range(f) for f in fields[8:] if not f.startswith("[")]
                if "master" in flags and ranges:
                    host, _, port = where.split("@")[0].rpartition(":")
                    masters[node_id] = ((host or seed[0], int(port)), ranges)
        except (TypeError, ValueError, IndexError):
            raise Unreachable("unexpected CLUSTER NODES reply") from None
        if not masters:
            raise Unreachable("the cluster serves no slots")
        self.shards = []
        for node_id, (address, ranges) in masters.items():
            shard = Shard(address, replicas.get(node_id, 0))
            self.shards.append(shard)
            for first, last in ranges:
                self._by_slot[first:last + 1] = [shard] * (last - first + 1)
        self.read_at = read_at

    def shard(self, slot: int) -> Shard:
        shard = self._by_slot[slot]
        if shard is None:
            raise _Transient("slot not served")
        return shard

    def stale(self, now: float) -> bool:
        return now - self.read_at >= REFRESH_EVERY

    def nodes(self) -> list[Address]:
        return [s.master for s in self.shards]


def _slot_range(field: str) -> tuple[int, int]:
    first, _, last = field.partition("-")
    return int(first), int(last or first)


class Unreachable(StoreUnavailable):
    """The store could not get an answer (down, failing over, too slow, refused):
    the operator's fail-open choice applies, unlike a wrong or disagreeing answer."""


class _Transient(Exception):
    """A condition that may clear within the deadline (a slot not served yet)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One command of a call; ``key`` routes it (None: any node, e.g. INFO).

    A value: where a job stands in its call (its reply, a redirect's target)
    is the :class:`Dispatch`'s state, kept by the job's position."""

    command: Command
    key: bytes | None


@dataclass(frozen=True, slots=True)
class Request:
    """One pipelined round trip to one node: ``commands`` are sent, replies read in order."""

    node: Address | None
    """None: the seed (the single server, or the node the URL names)."""
    jobs: tuple[int, ...]
    """The positions (in the call's jobs) of the jobs this request carries."""
    commands: tuple[Command, ...]
    replies_for_jobs: tuple[int, ...]
    """Index in ``commands`` of each job's reply."""
    acks: int
    load_script: bool


class Dispatch:
    """One store call: jobs, routed and retried until done or the deadline.

    This is the state of one call's retry loop, so it changes from round to
    round (replies in, redirects followed, setbacks counted); it is made and
    used by that one call only, never shared between calls or threads.  Its
    attributes are private: the store reads :attr:`deadline` and
    :attr:`need_refresh` and changes the state only through
    :meth:`require_acks`, :meth:`use_map`, :meth:`feed` and :meth:`backoff`.
    """

    __slots__ = ("_asking", "_attempts", "_deadline", "_done", "_jobs", "_lost", "_noscript",
                 "_pause", "_refresh", "_replica_acks", "_replies", "_script", "_slot_map",
                 "_targets")

    def __init__(self, jobs: Sequence[Job], deadline: float, slot_map: SlotMap | None,
                 replica_acks: int, script: str | None = None) -> None:
        self._jobs = tuple(jobs)
        self._deadline = deadline
        self._script = script
        self._refresh = False
        self._slot_map = slot_map
        self._replica_acks = replica_acks
        count = len(self._jobs)
        self._replies: list[object] = [None] * count
        self._done = [False] * count
        self._targets: list[Address | None] = [None] * count
        self._asking = [False] * count
        self._attempts = 0
        self._lost = 0
        self._pause = False
        self._noscript: set[Address | None] = set()

    @property
    def deadline(self) -> float:
        """The call's deadline (``time.monotonic()`` seconds)."""
        return self._deadline

    @property
    def need_refresh(self) -> bool:
        """Should the store read the slot map again before the next round?"""
        return self._refresh

    @property
    def replica_acks(self) -> int:
        return self._replica_acks

    @property
    def slot_map(self) -> SlotMap | None:
        return self._slot_map

    def require_acks(self, replica_acks: int) -> None:
        """How many replicas must confirm the writes (known once the store knows
        whether its server is a cluster node)."""
        self._replica_acks = replica_acks

    def use_map(self, slot_map: SlotMap | None) -> None:
        """Route by a freshly read slot map from now on."""
        self._slot_map = slot_map
        self._refresh = False

    def finished(self) -> bool:
        """Has every job its reply?  Past the deadline without, raise Unreachable."""
        if all(self._done):
            return True
        if self.remaining() <= 0:
            raise self.expired()
        return False

    def remaining(self) -> float:
        return self._deadline - time.monotonic()

    def requests(self) -> list[Request]:
        """This round's requests: the pending jobs, one request per node."""
        by_node: dict[Address | None, list[int]] = {}
        for i, job in enumerate(self._jobs):
            if self._done[i]:
                continue
            node = self._targets[i]
            if node is None and self._slot_map is not None:
                if job.key is None:
                    node = self._slot_map.nodes()[0]
                else:
                    try:
                        node = self._slot_map.shard(key_slot(job.key)).master
                    except _Transient:
                        self._refresh = True
                        continue
            by_node.setdefault(node, []).append(i)
        out = []
        for node, positions_of_jobs in by_node.items():
            commands: list[Command] = []
            load = node in self._noscript and self._script is not None
            if load:
                commands.append(("SCRIPT", "LOAD", self._script))
            positions = []
            for i in positions_of_jobs:
                if self._asking[i]:
                    commands.append(("ASKING",))
                positions.append(len(commands))
                commands.append(self._jobs[i].command)
            acks = self._acks(node)
            if acks:
                probe = _ack_key(self._jobs[positions_of_jobs[0]].key)
                if probe is not None:  # see _ack_key
                    commands.append(("SET", probe, 1, "PX", 60_000))
                wait_ms = max(1, int(self.remaining() * 1000))
                commands.append(("WAIT", acks, wait_ms))
            out.append(Request(node, tuple(positions_of_jobs), tuple(commands),
                               tuple(positions), acks, load))
        return out

    def _acks(self, node: Address | None) -> int:
        if not self._replica_acks:
            return 0
        if self._slot_map is None:
            return self._replica_acks
        replicas = next((s.replicas for s in self._slot_map.shards if s.master == node), None)
        # A node outside the map (a redirect's target) is not known to lack replicas.
        return self._replica_acks if replicas is None else min(self._replica_acks, replicas)

    def feed(self, request: Request, replies: Sequence[object] | BaseException) -> None:
        """Take one request's replies (or what sending it raised)."""
        if isinstance(replies, BaseException):
            if not isinstance(replies, TRANSPORT_ERRORS):
                raise replies
            self._setback()
            for i in request.jobs:
                self._targets[i] = None
                self._asking[i] = False
            return
        if len(replies) != len(request.commands):
            raise Unreachable("unexpected reply from redis")
        wrote = False
        for i, index in zip(request.jobs, request.replies_for_jobs, strict=True):
            reply = replies[index]
            self._asking[i] = False
            if not isinstance(reply, BaseException):
                self._replies[i], self._done[i], wrote = reply, True, True
            elif isinstance(reply, NoScriptError):
                self._noscript.add(request.node)
            elif isinstance(reply, AskError) and self._slot_map is None:
                raise Unreachable("the redis server is a cluster node: leave out cluster=false")
            elif isinstance(reply, MovedError):
                self._targets[i] = reply.node_addr
                self._refresh = True
            elif isinstance(reply, AskError):
                self._targets[i], self._asking[i] = reply.node_addr, True
            elif isinstance(reply, _TRANSIENT_REPLIES):
                self._targets[i] = None
                self._setback()
            elif isinstance(reply, ResponseError):
                raise Unreachable(f"redis refused the call ({_error_kind(reply)})")
            else:
                raise Unreachable("redis call failed")
        if request.load_script and not isinstance(replies[0], BaseException):
            self._noscript.discard(request.node)
        if request.acks and wrote:
            acked = replies[-1]
            if isinstance(acked, BaseException) or not isinstance(acked, int) or (
                acked < request.acks
            ):
                raise Unreachable("no replica acknowledged the replay mark in time")

    def _setback(self) -> None:
        """A lost request or a transient refusal: retry after a pause, with a fresh map.

        One server gets one retry (a pooled connection the server closed, a restart);
        a cluster keeps trying until the deadline (a failover takes seconds).
        """
        self._lost += 1
        self._pause = True
        if self._slot_map is None and self._lost > 1:
            raise Unreachable("redis replay store cannot be reached")
        self._refresh = self._slot_map is not None

    def backoff(self) -> float:
        """How long to wait before the next round: nothing after redirects and
        reloaded scripts only, growing pauses after setbacks."""
        if not self._pause:
            return 0.0
        self._pause = False
        self._attempts += 1
        return min(0.01 * float(2 ** min(self._attempts, 5)), 0.2, max(self.remaining(), 0.0))

    def replies(self) -> list[object]:
        return list(self._replies)

    def expired(self) -> Unreachable:
        return Unreachable("redis replay store did not answer before the deadline")


def _ack_key(key: bytes | None) -> bytes | None:
    """A key in ``key``'s slot that the request writes just before its ``WAIT``.

    ``WAIT`` waits for the connection's latest write; a script that wrote
    nothing this time (an id it found already marked) leaves that at an older
    write.  Writing this key makes the ``WAIT`` cover everything the node did
    before, whatever the script did.  It cannot collide with an id key (those
    have a colon after the issuer).
    """
    if key is None:
        return None
    probe = key + b"!ack"
    if key_slot(probe) != key_slot(key):  # no hash tag: put the whole key in one
        probe = b"{" + key + b"}!ack"
    return probe if key_slot(probe) == key_slot(key) else None


def _error_kind(error: ResponseError) -> str:
    """The error's class name only: a server message may quote the command's keys."""
    return type(error).__name__
