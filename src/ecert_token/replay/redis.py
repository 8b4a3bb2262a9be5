"""Redis replay store: the shared replay memory of a region.

One check is one round trip: an ``EVALSHA`` of a small Lua script that reads
the fence marker and the recorded terms and does ``SET key <attempt> NX EXAT
<expiry>`` atomically on the server.  The batch form sends one script call
per key group in one pipeline.
``redis`` (redis-py) is an optional extra, imported only when a store is made.

**Keys and Redis Cluster.**  Every key carries a hash tag, so the marker and
the ids that one script call touches are in one slot::

    <prefix>:{<group>}:!began              the group's "memory began" marker
    <prefix>:{<group>}:!terms              the terms the group's memory began with
    <prefix>:{<group>}:<issuer>:<token id> one used id (token id as raw bytes)

The group is ``crc32(token id) % groups`` (``groups=16`` by default).  One
tag for everything would put a whole nation's load on one cluster shard (in
practice there is one issuer); one tag per id would need a marker per id.
Sixteen groups spread the load over up to sixteen shards while a batch of 64
ids still costs one pipelined round trip on a single server (one script call
per group present).  ``groups=1`` makes a batch a single script call.

**One group count per prefix.**  Stores that share a server and prefix must
file an id under the same key, so they must use the same ``groups``: the first
store records its count in ``<prefix>:groups`` and every store compares its own
with it before its first check.  A store with another count fails closed
(StoreUnavailable, even with ``fail_open``): it would accept ids used elsewhere.

**Expiry and the horizon (clock skew).**  An id's key expires at the entry's
absolute ``expires_at`` plus the ``skew`` plus one second (``EXAT``), but
never sooner than its remaining lifetime by the caller's clock plus as much,
so a Redis whose clock runs ahead cannot forget live ids early.  ``NX`` means
a second SET of the same id never extends or resets its expiry.  The server
refuses (FENCED) a mark whose ``expires_at`` plus the skew is at or before its
own time.  Together: verifiers whose clocks are within ``skew`` (default: the
leeway) of the server's never both accept one id.

**Terms.**  Each key group records ``leeway=L;skew=S`` in
``<prefix>:{<group>}:!terms`` when its memory begins; a store with other terms
fails closed (StoreUnavailable, even with ``fail_open``) and writes nothing.

**Lost replies.**  An id's value is the entry's attempt value; a mark that
finds its own value answers OWN_MARK (see :mod:`ecert_token.token.attempts`).

**Restart fencing.**  The marker has no expiry.  If the script finds it
missing (a new, flushed, or restarted-without-persistence Redis, or a cluster
shard that lost its data) it sets it to the store's clock and tokens issued
before that are FENCED (see :mod:`ecert_token.replay.base`); the store logs a
warning.  Persistence that loses recent writes without losing the marker (AOF
``appendfsync everysec``) is not detected: use ``appendfsync always``, or no
persistence at all, for the replay database.  Asynchronous replication at
failover is handled by replica acknowledgement (below).

**Eviction.**  Only ``maxmemory-policy noeviction`` (or no ``maxmemory``
limit) is safe.  Every ``allkeys-*`` policy may evict live ids, and every
``volatile-*`` policy too, because every id key has an expiry; ``volatile-ttl``
evicts the ids closest to expiry first, which are still live.  The store
checks the policy once after its first successful call (and on demand with
:meth:`RedisReplayStore.check_eviction_policy`) and logs a warning when it is
unsafe or cannot be read.  Under ``noeviction`` a full Redis refuses writes,
which fails closed.

**Failures.**  Any Redis error (unreachable, timeout, out of memory, read-only
replica, a cluster that is failing over) raises
:class:`~ecert_token.errors.StoreUnavailable`: verification fails closed, and
no redis-py exception leaves the store.  ``fail_open=True`` is the operator's
explicit choice to accept tokens without a replay check while Redis cannot
answer; each episode is logged as a warning (never with token data).  One
deadline (``timeout``) bounds each whole call; the store retries by itself
(once for a lost connection to one server; on a cluster, what a failover or a
resharding makes fail for a moment, until the deadline).  A retried check
whose first transmission did reach the server finds the call's own attempt
value and answers OWN_MARK: accepted once, never twice.

**Routing and Redis Cluster.**  The store sends its commands itself
(:mod:`ecert_token.replay.cluster`): to the one server, or, when the server is
a cluster node (``INFO cluster``, or ``cluster=True``), to the master serving
each key group, one pipelined request per master.  On a cluster master that
has replicas a mark counts only once a replica confirms it (``WAIT`` on the
connection that ran the script; ``replica_acks``), so a replica promoted
after its master died has every accepted mark; without the confirmation the
call fails closed.  See ``docs/guides/redis-cluster.md``.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from ..clock import Clock, system_clock
from ..errors import EcertError, InvalidArgument, StoreUnavailable
from .base import DEFAULT_LEEWAY, TERMS_MISMATCH, MarkResult, ReplayEntry, check_leeway

try:
    import redis
    import redis.asyncio
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError, ResponseError
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the Redis replay store needs: pip install 'ecert-token[redis]'") from exc

from .cluster import (
    TRANSPORT_ERRORS,
    Address,
    Command,
    Dispatch,
    Job,
    SlotMap,
    Unreachable,
    cluster_enabled,
    split_url,
)

logger = logging.getLogger(__name__)

SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local now = tonumber(ARGV[1])
local skew = tonumber(ARGV[4])
local terms = redis.call('GET', KEYS[2])
if terms and terms ~= ARGV[3] then return {2, 0} end
local began = redis.call('GET', KEYS[1])
local created = 0
if began then
  began = tonumber(began)
else
  began = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], ARGV[2])
  created = 1
end
if not terms then redis.call('SET', KEYS[2], ARGV[3]) end
local server_now = tonumber(redis.call('TIME')[1])
local out = {created, began}
local function held(key, attempt)
  local value = redis.call('GET', key)
  if not value then return 2 end
  if attempt ~= '' and value == attempt then return 3 end
  return 1
end
for i = 3, #KEYS do
  local j = 3 * i - 4
  local issued = tonumber(ARGV[j])
  local expires = tonumber(ARGV[j + 1])
  local attempt = ARGV[j + 2]
  local r
  if issued < began or expires + skew <= server_now then
    r = held(KEYS[i], attempt)
  else
    local at = math.max(expires, server_now + expires - now) + skew + 1
    local value = attempt
    if value == '' then value = '1' end
    if redis.call('SET', KEYS[i], value, 'NX', 'EXAT', at) then
      r = 0
    else
      r = held(KEYS[i], attempt)
    end
  end
  out[#out + 1] = r
end
return out
"""
"""The check-and-mark script for the ids of one key group.

KEYS[1] is the group's marker, KEYS[2] its terms key, KEYS[3..] the id keys.
ARGV[1] is the caller's now, ARGV[2] the store clock's time (the marker's
value if it must be set), ARGV[3] the store's terms (``leeway=L;skew=S``),
ARGV[4] the skew, then issued_at, expires_at and the attempt value for each
id.  (Replicating effects, needed by Redis 6.2 for TIME before a write, is the
default from 7.0 on.)  It returns ``{status, memory_began, code...}``:
status 0, or 1 when the marker was missing (set now), or 2 when the terms key
holds other terms (then nothing is read or written and no codes follow); code
0 first use, 1 replayed, 2 fenced, 3 own mark (the id holds this attempt).

The horizon, decided by the server's clock: an id whose entry expiry is at or
before the server's time minus the skew is FENCED unless its key is still
there, and a key lives until the entry's expiry plus the skew plus one second
(or its remaining lifetime by the caller's clock plus as much, if later).  So
at every moment a verifier whose clock is within the skew of the server's sees
a used id as REPLAYED (the key is there) or FENCED (too late), never first use.
"""

_CODES = (MarkResult.FIRST_USE, MarkResult.REPLAYED, MarkResult.FENCED, MarkResult.OWN_MARK)
_TERMS_DIFFER = 2
_SAFE_POLICY = "noeviction"
_SHA = hashlib.sha1(SCRIPT.encode("utf-8"), usedforsecurity=False).hexdigest()
_ERRORS = (RedisError, OSError)


@dataclass(frozen=True, slots=True)
class EvictionCheck:
    """What the server says about evicting keys under memory pressure.

    ``safe`` is True when no live id can be evicted (``noeviction``, or no
    ``maxmemory`` limit), False when one can, None when the server would not
    say (CONFIG disabled, as on some managed services).
    """

    policy: str | None
    maxmemory: int | None
    safe: bool | None


def eviction_check(config: object) -> EvictionCheck:
    """Judge a ``CONFIG GET maxmemory*`` reply."""
    if not isinstance(config, dict):
        return EvictionCheck(None, None, None)
    policy = config.get("maxmemory-policy")
    raw_limit = config.get("maxmemory")
    try:
        limit = int(raw_limit) if raw_limit is not None else None
    except (TypeError, ValueError):
        limit = None
    if not isinstance(policy, str):
        return EvictionCheck(None, limit, None)
    return EvictionCheck(policy, limit, policy == _SAFE_POLICY or limit == 0)


@dataclass(frozen=True, slots=True)
class _Call:
    """One script call: the ids of one key group, and where they sit in the batch."""

    keys: list[bytes]
    args: list[int | bytes | str]
    positions: list[int]


class _RedisLogic:
    """Everything but the I/O: keys, script arguments, replies, failure policy.

    Shared by the blocking and the asyncio store so both behave identically.
    """

    def __init__(
        self,
        max_lifetime: int,
        clock: Clock,
        *,
        prefix: str,
        groups: int,
        fail_open: bool,
        check_eviction: bool,
        leeway: int = DEFAULT_LEEWAY,
        skew: int | None = None,
    ) -> None:
        self.leeway = check_leeway(leeway)
        self.skew = self.leeway if skew is None else skew
        if isinstance(self.skew, bool) or not isinstance(self.skew, int) or self.skew < 0:
            raise InvalidArgument("skew must be a non-negative number of seconds")
        self.terms = f"leeway={self.leeway};skew={self.skew}"
        if isinstance(max_lifetime, bool) or not isinstance(max_lifetime, int) or max_lifetime < 1:
            raise InvalidArgument("max_lifetime must be a positive number of seconds")
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "{}"):
            raise InvalidArgument("prefix must be a non-empty string without braces")
        if isinstance(groups, bool) or not isinstance(groups, int) or not 1 <= groups <= 16384:
            raise InvalidArgument("groups must be 1 to 16384")
        self.max_lifetime = max_lifetime
        self.clock = clock
        self.fail_open = fail_open
        self.groups = groups
        self._tags = [f"{prefix}:{{{g}}}:".encode() for g in range(groups)]
        self._markers = [tag + b"!began" for tag in self._tags]
        self._terms_keys = [tag + b"!terms" for tag in self._tags]
        self._eviction_pending = check_eviction
        self.groups_key = f"{prefix}:groups".encode()
        self._groups_agreed = False
        self._failing = False
        self._began_logged_at: int | None = None

    def group(self, entry: ReplayEntry) -> int:
        """Which key group (hash tag) the entry's id belongs to."""
        return zlib.crc32(entry.token_id) % self.groups if self.groups > 1 else 0

    def key(self, entry: ReplayEntry, group: int) -> bytes:
        """The id's key name (see the module docstring)."""
        if ":" in entry.issuer:
            raise InvalidArgument("issuer name may not contain ':'")
        return self._tags[group] + entry.issuer.encode("utf-8") + b":" + entry.token_id

    def marker(self, group: int) -> bytes:
        """The key holding when group ``group``'s memory began."""
        return self._markers[group]

    def plan(self, entries: Sequence[ReplayEntry], now: int) -> list[_Call]:
        """Group the entries by hash tag: one script call per group present."""
        began_if_new = self.clock()
        calls: dict[int, _Call] = {}
        for position, entry in enumerate(entries):
            group = self.group(entry)
            call = calls.get(group)
            if call is None:
                call = calls[group] = _Call(
                    [self._markers[group], self._terms_keys[group]],
                    [now, began_if_new, self.terms, self.skew], [],
                )
            call.keys.append(self.key(entry, group))
            call.args.extend((entry.issued_at, entry.expires_at, entry.attempt))
            call.positions.append(position)
        return list(calls.values())

    def _log_began(self, now: int) -> None:
        # Each key group has its own marker; one warning a minute says it all.
        last = self._began_logged_at
        if last is None or not last <= now < last + 60:
            self._began_logged_at = now
            logger.warning(
                "redis replay memory began now (new, flushed or restarted server): "
                "tokens issued earlier are rejected as possibly replayed"
            )

    def results(
        self, calls: Sequence[_Call], replies: Sequence[object], now: int
    ) -> list[MarkResult]:
        """Turn the script replies back into one result per entry, in order."""
        out: list[MarkResult] = [MarkResult.REPLAYED] * sum(len(c.positions) for c in calls)
        for call, reply in zip(calls, replies, strict=True):
            if isinstance(reply, list) and reply[:1] == [_TERMS_DIFFER]:
                raise StoreUnavailable(TERMS_MISMATCH)  # fails closed even with fail_open
            if not isinstance(reply, list) or len(reply) != 2 + len(call.positions):
                raise StoreUnavailable("unexpected reply from redis")
            if reply[0] == 1:
                self._log_began(now)
            for position, code in zip(call.positions, reply[2:], strict=True):
                if not isinstance(code, int) or not 0 <= code < len(_CODES):
                    raise StoreUnavailable("unexpected reply from redis")
                out[position] = _CODES[code]
        if self._failing:
            self._failing = False
            logger.warning("redis replay store reachable again")
        return out

    def unavailable(self, entries: Sequence[ReplayEntry]) -> list[MarkResult]:
        """Redis could not answer: fail closed, or fail open if the operator chose so.

        Failing open still refuses an id repeated within the batch (REPLAYED
        after its first position): that needs no store.
        """
        if not self.fail_open:
            raise StoreUnavailable("redis replay store cannot be reached")
        if not self._failing:
            self._failing = True
            logger.warning(
                "redis replay store unavailable: accepting tokens WITHOUT replay protection "
                "(fail-open policy)"
            )
        seen: set[tuple[str, bytes]] = set()
        out: list[MarkResult] = []
        for entry in entries:
            key = (entry.issuer, entry.token_id)
            out.append(MarkResult.REPLAYED if key in seen else MarkResult.FIRST_USE)
            seen.add(key)
        return out

    def groups_due(self) -> bool:
        """Has this store yet to compare its group count with the recorded one?"""
        return not self._groups_agreed

    def judge_groups(self, recorded: object) -> None:
        """Compare the recorded group count (``GET <prefix>:groups``) with ours."""
        try:
            count = int(recorded)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise StoreUnavailable("the redis key-group count cannot be read") from None
        if count != self.groups:
            raise StoreUnavailable(
                "another replay store on this redis prefix uses a different number of key "
                "groups"
            )
        self._groups_agreed = True

    def eviction_due(self) -> bool:
        return self._eviction_pending

    def judge_eviction(self, config: object) -> EvictionCheck:
        """Record and log the verdict on the server's eviction policy."""
        self._eviction_pending = False
        check = eviction_check(config)
        if check.safe is None:
            logger.warning(
                "cannot read the redis eviction policy: make sure it is noeviction, or live "
                "replay ids may be evicted and replayed"
            )
        elif not check.safe:
            logger.warning(
                "redis maxmemory-policy %s may evict live replay ids (tokens could be "
                "replayed); use noeviction",
                check.policy,
            )
        return check


def strictest_eviction_config(configs: Sequence[object]) -> object:
    """Of every master's ``CONFIG GET maxmemory*`` reply, the one to judge the store by:
    the first unsafe one, else the first unreadable one, else the first."""
    checks = [(eviction_check(c).safe, c) for c in configs]
    for verdict in (False, None):
        for safe, config in checks:
            if safe is verdict:
                return config
    return checks[0][1] if checks else None


def _config_dict(reply: object) -> object:
    """A raw ``CONFIG GET`` reply (a RESP3 map, or RESP2's flat list of names and
    values) as a dict of str."""
    if isinstance(reply, dict):
        pairs = list(reply.items())
    elif isinstance(reply, list) and not len(reply) % 2:
        pairs = list(zip(reply[::2], reply[1::2], strict=True))
    else:
        return None
    return {_text(k): _text(v) for k, v in pairs}


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _answered(reply: object) -> bool:
    """Did one request get a reply that is not an error?"""
    return isinstance(reply, list) and bool(reply) and not isinstance(reply[0], BaseException)


def _integer(value: object) -> int:
    """A marker's value (bytes of decimal digits) as an int; ValueError otherwise."""
    if not isinstance(value, bytes | str | int):
        raise ValueError("not a number")
    return int(value)


def _script_jobs(calls: Sequence[_Call]) -> list[Job]:
    return [Job(("EVALSHA", _SHA, len(c.keys), *c.keys, *c.args), c.keys[0]) for c in calls]


def _memory_jobs(logic: _RedisLogic, now: int) -> list[Job]:
    """SET every missing marker to ``now``, then read them all back (GET per marker:
    they sit in different slots)."""
    markers = [logic.marker(g) for g in range(logic.groups)]
    return [Job(("SET", m, now, "NX"), m) for m in markers] + [Job(("GET", m), m) for m in markers]


def _groups_jobs(logic: _RedisLogic) -> list[Job]:
    key = logic.groups_key
    return [Job(("SET", key, logic.groups, "NX"), key), Job(("GET", key), key)]


ClientT = TypeVar("ClientT")
_CALL_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ecert_redis_call_deadline", default=None
)


class _RedisStoreBase(Generic[ClientT]):
    """Construction and routing state shared by the blocking and the asyncio store.

    ``client`` is a redis-py client for one server, or for any one node of a
    Redis Cluster (the seed: the store asks it for the slot map and opens its
    own connections to each master with the same options).  ``cluster``: True
    or False, or None to ask the server once (``INFO cluster``).
    ``replica_acks``: how many replicas must confirm a mark before it counts
    (``WAIT``); None means 1 on a cluster master that has replicas and 0
    otherwise (see ``docs/guides/redis-cluster.md``).  ``timeout`` (seconds)
    bounds each whole store call, retries and waits included.  ``seeds``: more
    cluster nodes, ``(host, port)``, to ask for the slot map when the client's
    own node does not answer.
    """

    def __init__(
        self,
        client: ClientT,
        max_lifetime: int = 300,
        clock: Clock = system_clock,
        *,
        prefix: str = "ecert",
        groups: int = 16,
        fail_open: bool = False,
        check_eviction: bool = True,
        leeway: int = DEFAULT_LEEWAY,
        skew: int | None = None,
        cluster: bool | None = None,
        replica_acks: int | None = None,
        timeout: float = 1.0,
        seeds: Sequence[Address] = (),
    ) -> None:
        if isinstance(client, redis.RedisCluster | redis.asyncio.RedisCluster):
            raise InvalidArgument(
                "give the store a client for one node of the cluster (or use from_url): it "
                "routes to the masters itself"
            )
        if cluster is not None and not isinstance(cluster, bool):
            raise InvalidArgument("cluster must be True, False or None")
        if replica_acks is not None and (
            isinstance(replica_acks, bool) or not isinstance(replica_acks, int)
            or not 0 <= replica_acks <= 16
        ):
            raise InvalidArgument("replica_acks must be 0 to 16 or None")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise InvalidArgument("timeout must be a positive number of seconds")
        self.client = client
        self._logic = _RedisLogic(
            max_lifetime, clock, prefix=prefix, groups=groups, fail_open=fail_open,
            check_eviction=check_eviction, leeway=leeway, skew=skew,
        )
        self.timeout = float(timeout)
        self._cluster = cluster
        self._replica_acks = replica_acks
        self._slot_map: SlotMap | None = None
        self._nodes: dict[Address, ClientT] = {}
        self._nodes_lock = threading.Lock()
        self._extra_seeds: list[Address] = [(str(h), int(p)) for h, p in seeds]

    @property
    def max_lifetime(self) -> int:
        return self._logic.max_lifetime

    @property
    def leeway(self) -> int:
        """The verifiers' clock tolerance this store keeps ids for (its recorded terms)."""
        return self._logic.leeway

    @property
    def skew(self) -> int:
        """How far (seconds) a verifier's clock may be from the server's (default: the leeway)."""
        return self._logic.skew

    @property
    def is_cluster(self) -> bool | None:
        """True on a Redis Cluster, False on one server, None before the first call."""
        return self._cluster

    @property
    def replica_acks(self) -> int:
        """Replicas that must confirm each mark (per master, at most its replica count)."""
        if self._replica_acks is not None:
            return self._replica_acks
        return 1 if self._cluster else 0

    @classmethod
    def from_url(
        cls,
        url: str,
        max_lifetime: int = 300,
        clock: Clock = system_clock,
        *,
        timeout: float = 1.0,
        prefix: str = "ecert",
        groups: int = 16,
        fail_open: bool = False,
        check_eviction: bool = True,
        leeway: int = DEFAULT_LEEWAY,
        skew: int | None = None,
        cluster: bool | None = None,
        replica_acks: int | None = None,
        **client_options: object,
    ) -> Self:
        """A store on ``redis://host:port/db`` (or ``rediss://``, ``unix://``).

        The URL may name any node of a Redis Cluster: the store asks it
        (``INFO cluster``) on its first call, or is told with ``?cluster=true``
        (``false`` for one server).  ``?replica_acks=N`` sets ``replica_acks``;
        ``?seeds=host:port,host:port`` names more nodes to ask for the slot map
        when the URL's node is down (and implies ``cluster=true``).  These
        parameters are removed before redis-py sees the URL; the keywords
        of the same names win over them.  ``timeout`` bounds each whole store
        call, connecting and every retry included (seconds), so a dead server
        or a failover fails closed in time; ``client_options`` go to redis-py's
        ``from_url``.  The other keywords are the constructor's.
        """
        options = split_url(url)
        client_options.setdefault("socket_timeout", timeout)
        client_options.setdefault("socket_connect_timeout", timeout)
        client_options.setdefault("retry", cls._no_retry())  # the store retries itself
        try:
            client = cls._client_from_url(options.url, **client_options)
        except (ValueError, TypeError):
            raise InvalidArgument("not a usable Redis URL or client option") from None
        return cls(
            client, max_lifetime, clock, prefix=prefix, groups=groups, fail_open=fail_open,
            check_eviction=check_eviction, leeway=leeway, skew=skew, timeout=timeout,
            cluster=options.cluster if cluster is None else cluster,
            replica_acks=options.replica_acks if replica_acks is None else replica_acks,
            seeds=options.seeds,
        )

    @staticmethod
    def _client_from_url(url: str, **options: Any) -> ClientT:
        raise NotImplementedError

    def _node_client(self, node: Address | None) -> ClientT:
        """The client for ``node`` (None: the seed), made from the seed's options."""
        if node is None:
            return self.client
        client = self._nodes.get(node)
        if client is None:
            with self._nodes_lock:  # threads sharing a store make one client per node
                client = self._nodes.get(node)
                if client is None:
                    pool = self.client.connection_pool  # type: ignore[attr-defined]
                    kwargs = {**pool.connection_kwargs, "host": node[0], "port": node[1]}
                    kwargs.pop("path", None)
                    client = self._nodes[node] = self._client_from_pool(
                        type(pool)(connection_class=pool.connection_class, **kwargs)
                    )
        return client

    @staticmethod
    def _client_from_pool(pool: Any) -> ClientT:
        raise NotImplementedError

    @staticmethod
    def _no_retry() -> object:
        raise NotImplementedError

    def _dispatch_for(self, jobs: list[Job], script: bool) -> Dispatch:
        return Dispatch(
            jobs, self._deadline(), self._slot_map, self.replica_acks, SCRIPT if script else None
        )

    def _deadline(self) -> float:
        """The deadline of the store call under way (one per check, group agreement and
        eviction check included), or a new one."""
        deadline = _CALL_DEADLINE.get()
        return time.monotonic() + self.timeout if deadline is None else deadline

    def _call(self) -> contextvars.Token[float | None]:
        """Start one store call: its commands share one deadline (reset the token after)."""
        return _CALL_DEADLINE.set(time.monotonic() + self.timeout)

    def _eviction_due(self) -> bool:
        """Check the eviction policy now?  Only with half the call's time left (else on
        a later call: a check must not stretch the call past its deadline)."""
        return self._logic.eviction_due() and (
            self._deadline() - time.monotonic() > self.timeout / 2
        )

    def _seeds(self) -> list[Address | None]:
        """Where to ask for the slot map: the known masters, the seed, the extra seeds."""
        known: list[Address | None] = list(self._slot_map.nodes()) if self._slot_map else []
        return [*known, None, *self._extra_seeds]

    def _masters(self) -> list[Address | None]:
        """Every master of the cluster as the map knows them, or the one server (None)."""
        return list(self._slot_map.nodes()) if self._cluster and self._slot_map else [None]

    def _learn(self, reply: object, node: Address | None) -> None:
        seed = self.client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
        address = node or (str(seed.get("host", "127.0.0.1")), int(seed.get("port", 6379)))
        self._slot_map = SlotMap(reply, address, time.monotonic())


class RedisReplayStore(_RedisStoreBase["redis.Redis"]):
    """Replay memory in Redis, shared by every verifier of a region.

    Build it with :meth:`from_url`, or around an existing ``redis.Redis``
    client for one server or any one node of a cluster:
    ``RedisReplayStore(client, max_lifetime=300, clock=system_clock, *,
    prefix="ecert", groups=16, fail_open=False, check_eviction=True,
    cluster=None, replica_acks=None, timeout=1.0)``.  ``max_lifetime`` is the
    longest time a token can be accepted; ``clock`` dates a new memory (the
    marker).
    """

    @staticmethod
    def _client_from_url(url: str, **options: Any) -> redis.Redis:
        return redis.Redis.from_url(url, **options)

    @staticmethod
    def _client_from_pool(pool: Any) -> redis.Redis:
        return redis.Redis(connection_pool=pool)

    @staticmethod
    def _no_retry() -> object:
        return Retry(NoBackoff(), 0)

    def close(self) -> None:
        """Release the client's connections (and those to the cluster's other nodes)."""
        for client in self._nodes.values():
            client.close()
        self._nodes.clear()
        self.client.close()

    def _send(self, node: Address | None, commands: Sequence[Command], deadline: float) -> Any:
        """One pipelined round trip: the replies (error replies as exception objects),
        or what failed."""
        return self._send_many([(node, commands)], deadline)[0]

    def _send_many(
        self, requests: Sequence[tuple[Address | None, Sequence[Command]]], deadline: float
    ) -> list[Any]:
        """Write every request (one per node), then read their replies, each within
        what is left of the deadline: several masters cost one round trip, not several.
        A connection goes back to its pool only once all its replies are read."""
        held: list[tuple[Any, Any]] = []  # (pool, connection) not yet back in the pool
        sent: list[tuple[Any, Any] | BaseException] = []
        try:
            for node, commands in requests:
                pool: Any = self._node_client(node).connection_pool
                try:
                    try:
                        connection: Any = pool.get_connection()
                    except TypeError:  # redis-py before 5.3 wants a command name
                        connection = pool.get_connection("EVALSHA")
                except TRANSPORT_ERRORS as exc:
                    sent.append(exc)
                    continue
                held.append((pool, connection))
                try:
                    connection.send_packed_command(connection.pack_commands(commands))
                except TRANSPORT_ERRORS as exc:
                    sent.append(exc)
                    continue
                sent.append((pool, connection))
            out: list[Any] = []
            for (_, commands), state in zip(requests, sent, strict=True):
                if isinstance(state, BaseException):
                    out.append(state)
                    continue
                pool, connection = state
                try:
                    out.append(self._read(connection, len(commands), deadline))
                except TRANSPORT_ERRORS as exc:
                    out.append(exc)
                    continue
                held.remove(state)
                pool.release(connection)
            return out
        finally:
            for pool, connection in held:  # replies may still be due: unusable
                connection.disconnect()
                pool.release(connection)

    @staticmethod
    def _read(connection: Any, count: int, deadline: float) -> list[object]:
        replies: list[object] = []
        for _ in range(count):
            left = deadline - time.monotonic()
            if left <= 0 or not connection.can_read(timeout=left):
                raise redis.TimeoutError("deadline")
            try:
                replies.append(connection.read_response())
            except ResponseError as exc:
                replies.append(exc)
        return replies

    def _topology(self, dispatch: Dispatch) -> None:
        """Find out (once) whether the seed is a cluster node; read the slot map
        when there is none or it is old."""
        if self._cluster is None:
            reply = self._send(None, [("INFO", "cluster")], dispatch.deadline)
            if isinstance(reply, BaseException):
                raise Unreachable("redis replay store cannot be reached")
            self._cluster = cluster_enabled(reply[0])
            dispatch.require_acks(self.replica_acks)
        if self._cluster and (
            self._slot_map is None or self._slot_map.stale(time.monotonic())
        ):
            self._refresh(dispatch)

    def _refresh(self, dispatch: Dispatch) -> None:
        for node in self._seeds():
            reply = self._send(node, [("CLUSTER", "NODES")], dispatch.deadline)
            if not isinstance(reply, BaseException) and not isinstance(reply[0], BaseException):
                self._learn(reply[0], node)
                dispatch.use_map(self._slot_map)
                return

    def _dispatch(self, jobs: list[Job], *, script: bool = False) -> list[object]:
        """Run ``jobs`` to completion within one deadline, or raise StoreUnavailable
        (whatever redis-py raises, too: no other exception leaves the store)."""
        try:
            return self._dispatch_jobs(jobs, script)
        except EcertError:
            raise
        except Exception as exc:
            raise Unreachable("redis call failed") from exc

    def _dispatch_jobs(self, jobs: list[Job], script: bool) -> list[object]:
        dispatch = self._dispatch_for(jobs, script)
        self._topology(dispatch)
        while True:
            if self._cluster and self._slot_map is None:
                self._refresh(dispatch)
            if self._cluster is False or self._slot_map is not None:
                requests = dispatch.requests()
                replies = self._send_many([(r.node, r.commands) for r in requests],
                                          dispatch.deadline)
                for request, reply in zip(requests, replies, strict=True):
                    dispatch.feed(request, reply)
            if dispatch.finished():
                return dispatch.replies()
            if dispatch.need_refresh:
                self._refresh(dispatch)
            time.sleep(dispatch.backoff())

    def _run(self, calls: Sequence[_Call]) -> list[object]:
        return self._dispatch(_script_jobs(calls), script=True)

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return self.check_and_mark_many((entry,), now)[0]

    def _agree_groups(self) -> None:
        self._logic.judge_groups(self._dispatch(_groups_jobs(self._logic))[-1])

    def begin_memory(self) -> int:
        """Set every key group's "memory began" marker that is missing, now, in one
        round trip per master, and return the latest marker: tokens issued up to
        one leeway after it are fenced.  Run it when a deployment starts
        (``ecert replay init``), so that the first token of each group is not the
        one to set it.
        """
        logic = self._logic
        call = self._call()
        try:
            self._agree_groups()  # the same guard as every check: one group count per prefix
            values = self._dispatch(_memory_jobs(logic, logic.clock()))[logic.groups:]
            return max(_integer(v) for v in values)
        except (*_ERRORS, TypeError, ValueError) as exc:
            raise StoreUnavailable("cannot set the memory-began markers") from exc
        finally:
            _CALL_DEADLINE.reset(call)

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        if not entries:
            return []
        logic = self._logic
        calls = logic.plan(entries, now)
        call = self._call()
        try:
            try:
                if logic.groups_due():
                    self._agree_groups()
                results = logic.results(calls, self._run(calls), now)
            except Unreachable:
                return logic.unavailable(entries)
            if self._eviction_due():
                self.check_eviction_policy()
            return results
        finally:
            _CALL_DEADLINE.reset(call)

    def check_eviction_policy(self) -> EvictionCheck:
        """Ask the server (every master of a cluster) whether it may evict live ids;
        log a warning if so."""
        configs: list[object] = []
        try:
            dispatch = self._dispatch_for([], False)
            self._dispatch([])  # finds the topology
            for node in self._masters():
                reply = self._send(node, [("CONFIG", "GET", "maxmemory*")], dispatch.deadline)
                configs.append(None if isinstance(reply, BaseException) else _config_dict(reply[0]))
        except Unreachable:
            configs.append(None)
        return self._logic.judge_eviction(strictest_eviction_config(configs))

    def healthy(self) -> bool:
        """Can the store answer right now?  One PING to the server (to every master of
        a cluster) within the timeout, once more after a failure (a closed pooled
        connection; on a cluster, with the slot map read again: a failover may have
        moved the masters); no id is marked; never raises."""
        call = self._call()
        try:
            self._dispatch([])  # finds the topology
            for again in (False, True):
                if again and self._cluster:
                    self._refresh(self._dispatch_for([], False))
                replies = self._send_many([(n, [("PING",)]) for n in self._masters()],
                                          self._deadline())
                if all(_answered(r) for r in replies):
                    return True
            return False
        except Exception:  # a health probe reports, never raises
            return False
        finally:
            _CALL_DEADLINE.reset(call)


class AsyncRedisReplayStore(_RedisStoreBase["redis.asyncio.Redis"]):
    """The asyncio form of :class:`RedisReplayStore` (``redis.asyncio``).

    Same constructor, keys, script, routing, fencing and failure policy; the
    methods are coroutines, and a call's requests to several masters run
    concurrently.
    """

    @staticmethod
    def _client_from_url(url: str, **options: Any) -> redis.asyncio.Redis:
        return redis.asyncio.Redis.from_url(url, **options)

    @staticmethod
    def _client_from_pool(pool: Any) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(connection_pool=pool)

    @staticmethod
    def _no_retry() -> object:
        return AsyncRetry(NoBackoff(), 0)

    async def aclose(self) -> None:
        """Release the client's connections (and those to the cluster's other nodes)."""
        for client in self._nodes.values():
            await client.aclose()
        self._nodes.clear()
        await self.client.aclose()

    async def _send(
        self, node: Address | None, commands: Sequence[Command], deadline: float
    ) -> Any:
        """One pipelined round trip within what is left of the deadline: the replies
        (error replies as exception objects), or what failed."""
        pool: Any = self._node_client(node).connection_pool
        connection: Any = None
        clean = False  # every reply read: the connection may go back to the pool
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                try:
                    connection = await pool.get_connection()
                except TypeError:  # redis-py before 5.3 wants a command name
                    connection = await pool.get_connection("EVALSHA")
                await connection.send_packed_command(connection.pack_commands(commands))
                replies: list[object] = []
                for _ in commands:
                    try:
                        replies.append(await connection.read_response())
                    except ResponseError as exc:
                        replies.append(exc)
                clean = True
                return replies
        except (*TRANSPORT_ERRORS, TimeoutError) as exc:
            return exc if isinstance(exc, TRANSPORT_ERRORS) else redis.TimeoutError("deadline")
        finally:
            if connection is not None:
                if not clean:  # replies may still be due (even when cancelled from outside)
                    await connection.disconnect()
                await pool.release(connection)

    async def _topology(self, dispatch: Dispatch) -> None:
        if self._cluster is None:
            reply = await self._send(None, [("INFO", "cluster")], dispatch.deadline)
            if isinstance(reply, BaseException):
                raise Unreachable("redis replay store cannot be reached")
            self._cluster = cluster_enabled(reply[0])
            dispatch.require_acks(self.replica_acks)
        if self._cluster and (
            self._slot_map is None or self._slot_map.stale(time.monotonic())
        ):
            await self._refresh(dispatch)

    async def _refresh(self, dispatch: Dispatch) -> None:
        for node in self._seeds():
            reply = await self._send(node, [("CLUSTER", "NODES")], dispatch.deadline)
            if not isinstance(reply, BaseException) and not isinstance(reply[0], BaseException):
                self._learn(reply[0], node)
                dispatch.use_map(self._slot_map)
                return

    async def _dispatch(self, jobs: list[Job], *, script: bool = False) -> list[object]:
        """The coroutine form of :meth:`RedisReplayStore._dispatch`."""
        try:
            return await self._dispatch_jobs(jobs, script)
        except EcertError:
            raise
        except Exception as exc:
            raise Unreachable("redis call failed") from exc

    async def _dispatch_jobs(self, jobs: list[Job], script: bool) -> list[object]:
        dispatch = self._dispatch_for(jobs, script)
        await self._topology(dispatch)
        while True:
            if self._cluster and self._slot_map is None:
                await self._refresh(dispatch)
            if self._cluster is False or self._slot_map is not None:
                requests = dispatch.requests()
                replies = await asyncio.gather(
                    *(self._send(r.node, r.commands, dispatch.deadline) for r in requests)
                )
                for request, reply in zip(requests, replies, strict=True):
                    dispatch.feed(request, reply)
            if dispatch.finished():
                return dispatch.replies()
            if dispatch.need_refresh:
                await self._refresh(dispatch)
            await asyncio.sleep(dispatch.backoff())

    async def _run(self, calls: Sequence[_Call]) -> list[object]:
        return await self._dispatch(_script_jobs(calls), script=True)

    async def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return (await self.check_and_mark_many((entry,), now))[0]

    async def _agree_groups(self) -> None:
        self._logic.judge_groups((await self._dispatch(_groups_jobs(self._logic)))[-1])

    async def begin_memory(self) -> int:
        """The coroutine form of :meth:`RedisReplayStore.begin_memory`."""
        logic = self._logic
        call = self._call()
        try:
            await self._agree_groups()
            values = (await self._dispatch(_memory_jobs(logic, logic.clock())))[logic.groups:]
            return max(_integer(v) for v in values)
        except (*_ERRORS, TypeError, ValueError) as exc:
            raise StoreUnavailable("cannot set the memory-began markers") from exc
        finally:
            _CALL_DEADLINE.reset(call)

    async def check_and_mark_many(
        self, entries: Sequence[ReplayEntry], now: int
    ) -> list[MarkResult]:
        if not entries:
            return []
        logic = self._logic
        calls = logic.plan(entries, now)
        call = self._call()
        try:
            try:
                if logic.groups_due():
                    await self._agree_groups()
                results = logic.results(calls, await self._run(calls), now)
            except Unreachable:
                return logic.unavailable(entries)
            if self._eviction_due():
                await self.check_eviction_policy()
            return results
        finally:
            _CALL_DEADLINE.reset(call)

    async def check_eviction_policy(self) -> EvictionCheck:
        """Ask the server (every master of a cluster) whether it may evict live ids;
        log a warning if so."""
        configs: list[object] = []
        try:
            dispatch = self._dispatch_for([], False)
            await self._dispatch([])  # finds the topology
            for node in self._masters():
                reply = await self._send(node, [("CONFIG", "GET", "maxmemory*")],
                                         dispatch.deadline)
                configs.append(None if isinstance(reply, BaseException) else _config_dict(reply[0]))
        except Unreachable:
            configs.append(None)
        return self._logic.judge_eviction(strictest_eviction_config(configs))

    async def healthy(self) -> bool:
        """The coroutine form of :meth:`RedisReplayStore.healthy`."""
        call = self._call()
        try:
            await self._dispatch([])  # finds the topology
            for again in (False, True):
                if again and self._cluster:
                    await self._refresh(self._dispatch_for([], False))
                replies = await asyncio.gather(
                    *(self._send(n, [("PING",)], self._deadline()) for n in self._masters())
                )
                if all(_answered(r) for r in replies):
                    return True
            return False
        except Exception:  # a health probe reports, never raises
            return False
        finally:
            _CALL_DEADLINE.reset(call)
