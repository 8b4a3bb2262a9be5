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
``appendfsync everysec``, asynchronous replication at failover) is not
detected: use ``appendfsync always``, or no persistence at all, for the
replay database.

**Eviction.**  Only ``maxmemory-policy noeviction`` (or no ``maxmemory``
limit) is safe.  Every ``allkeys-*`` policy may evict live ids, and every
``volatile-*`` policy too, because every id key has an expiry; ``volatile-ttl``
evicts the ids closest to expiry first, which are still live.  The store
checks the policy once after its first successful call (and on demand with
:meth:`RedisReplayStore.check_eviction_policy`) and logs a warning when it is
unsafe or cannot be read.  Under ``noeviction`` a full Redis refuses writes,
which fails closed.

**Failures.**  Any Redis error (unreachable, timeout, out of memory, read-only
replica) raises :class:`~ecert_token.errors.StoreUnavailable`: verification
fails closed.  ``fail_open=True`` is the operator's explicit choice to accept
tokens without a replay check while Redis is down; each episode is logged as
a warning (never with token data).  A client resend of a check whose first
transmission did reach the server (redis-py ``retry_on_error``) finds the
call's own attempt value and answers OWN_MARK: accepted once, never twice.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from ..clock import Clock, system_clock
from ..errors import InvalidArgument, StoreUnavailable
from .base import DEFAULT_LEEWAY, TERMS_MISMATCH, MarkResult, ReplayEntry, check_leeway

try:
    import redis
    import redis.asyncio
    from redis.exceptions import NoScriptError, RedisError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the Redis replay store needs: pip install 'ecert-token[redis]'") from exc

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


def redo_missing_scripts(calls: Sequence[_Call], replies: list[object]) -> list[int]:
    """Which calls failed with NOSCRIPT (a new or restarted server) and must be redone."""
    return [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]


def _raise_errors(replies: Sequence[object]) -> None:
    for reply in replies:
        if isinstance(reply, BaseException):
            raise reply


ClientT = TypeVar("ClientT")


class _RedisStoreBase(Generic[ClientT]):
    """Construction shared by the blocking and the asyncio store."""

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
    ) -> None:
        self.client = client
        self._logic = _RedisLogic(
            max_lifetime, clock, prefix=prefix, groups=groups, fail_open=fail_open,
            check_eviction=check_eviction, leeway=leeway, skew=skew,
        )

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
        **client_options: object,
    ) -> Self:
        """A store on ``redis://host:port/db`` (or ``rediss://``, ``unix://``).

        ``timeout`` bounds connecting and each reply (seconds) so that a dead
        server fails closed quickly; ``client_options`` go to redis-py's
        ``from_url``.  The other keywords are the constructor's.
        """
        client_options.setdefault("socket_timeout", timeout)
        client_options.setdefault("socket_connect_timeout", timeout)
        try:
            client = cls._client_from_url(url, **client_options)
        except (ValueError, TypeError):
            raise InvalidArgument("not a usable Redis URL or client option") from None
        return cls(
            client, max_lifetime, clock, prefix=prefix, groups=groups, fail_open=fail_open,
            check_eviction=check_eviction, leeway=leeway, skew=skew,
        )

    @staticmethod
    def _client_from_url(url: str, **options: Any) -> ClientT:
        raise NotImplementedError


class RedisReplayStore(_RedisStoreBase["redis.Redis | redis.RedisCluster"]):
    """Replay memory in Redis, shared by every verifier of a region.

    Build it with :meth:`from_url`, or around an existing ``redis.Redis``
    (or ``redis.RedisCluster``) client: ``RedisReplayStore(client,
    max_lifetime=300, clock=system_clock, *, prefix="ecert", groups=16,
    fail_open=False, check_eviction=True)``.  ``max_lifetime`` is the longest
    time a token can be accepted; ``clock`` dates a new memory (the marker).
    """

    @staticmethod
    def _client_from_url(url: str, **options: Any) -> redis.Redis:
        return redis.Redis.from_url(url, **options)

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()

    def _evalsha(self, calls: Sequence[_Call]) -> list[object]:
        client = self.client
        if len(calls) == 1:
            call = calls[0]
            try:
                return [client.evalsha(_SHA, len(call.keys), *call.keys, *call.args)]
            except NoScriptError as exc:
                return [exc]
        pipe = client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(_SHA, len(call.keys), *call.keys, *call.args)
        return list(pipe.execute(raise_on_error=False))

    def _run(self, calls: Sequence[_Call]) -> list[object]:
        replies = self._evalsha(calls)
        missing = redo_missing_scripts(calls, replies)
        if missing:
            self.client.script_load(SCRIPT)
            again = self._evalsha([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        _raise_errors(replies)
        return replies

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return self.check_and_mark_many((entry,), now)[0]

    def _agree_groups(self) -> None:
        logic = self._logic
        pipe = self.client.pipeline(transaction=False)
        pipe.set(logic.groups_key, logic.groups, nx=True)
        pipe.get(logic.groups_key)
        logic.judge_groups(pipe.execute()[-1])

    def begin_memory(self) -> int:
        """Set every key group's "memory began" marker that is missing, now, in one
        round trip, and return the latest marker: tokens issued up to one leeway
        after it are fenced.  Run it when a deployment starts (``ecert replay
        init``), so that the first token of each group is not the one to set it.
        """
        now = self._logic.clock()
        markers = [self._logic.marker(g) for g in range(self._logic.groups)]
        try:
            self._agree_groups()  # the same guard as every check: one group count per prefix
            pipe = self.client.pipeline(transaction=False)
            for marker in markers:
                pipe.set(marker, now, nx=True)
            pipe.mget(markers)
            values = pipe.execute()[-1]
            return max(int(v) for v in values)
        except (*_ERRORS, TypeError, ValueError) as exc:
            raise StoreUnavailable("cannot set the memory-began markers") from exc

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        if not entries:
            return []
        logic = self._logic
        calls = logic.plan(entries, now)
        try:
            if logic.groups_due():
                self._agree_groups()
            results = logic.results(calls, self._run(calls), now)
        except _ERRORS:
            return logic.unavailable(entries)
        if logic.eviction_due():
            self.check_eviction_policy()
        return results

    def check_eviction_policy(self) -> EvictionCheck:
        """Ask the server whether it may evict live ids; log a warning if so."""
        try:
            config: object = self.client.config_get("maxmemory*")
        except _ERRORS:
            config = None
        return self._logic.judge_eviction(config)

    def healthy(self) -> bool:
        """Can the store answer right now?  One PING (no id is marked); never raises."""
        try:
            return bool(self.client.ping())
        except _ERRORS:
            return False


class AsyncRedisReplayStore(_RedisStoreBase["redis.asyncio.Redis | redis.asyncio.RedisCluster"]):
    """The asyncio form of :class:`RedisReplayStore` (``redis.asyncio``).

    Same constructor, keys, script, fencing and failure policy; the methods
    are coroutines.
    """

    @staticmethod
    def _client_from_url(url: str, **options: Any) -> redis.asyncio.Redis:
        return redis.asyncio.Redis.from_url(url, **options)

    async def aclose(self) -> None:
        """Release the client's connections."""
        await self.client.aclose()

    async def _evalsha(self, calls: Sequence[_Call]) -> list[object]:
        client = self.client
        if len(calls) == 1:
            call = calls[0]
            try:
                return [await client.evalsha(_SHA, len(call.keys), *call.keys, *call.args)]
            except NoScriptError as exc:
                return [exc]
        pipe = client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(_SHA, len(call.keys), *call.keys, *call.args)
        return list(await pipe.execute(raise_on_error=False))

    async def _run(self, calls: Sequence[_Call]) -> list[object]:
        replies = await self._evalsha(calls)
        missing = redo_missing_scripts(calls, replies)
        if missing:
            await self.client.script_load(SCRIPT)
            again = await self._evalsha([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        _raise_errors(replies)
        return replies

    async def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return (await self.check_and_mark_many((entry,), now))[0]

    async def _agree_groups(self) -> None:
        logic = self._logic
        pipe = self.client.pipeline(transaction=False)
        pipe.set(logic.groups_key, logic.groups, nx=True)
        pipe.get(logic.groups_key)
        logic.judge_groups((await pipe.execute())[-1])

    async def check_and_mark_many(
        self, entries: Sequence[ReplayEntry], now: int
    ) -> list[MarkResult]:
        if not entries:
            return []
        logic = self._logic
        calls = logic.plan(entries, now)
        try:
            if logic.groups_due():
                await self._agree_groups()
            results = logic.results(calls, await self._run(calls), now)
        except _ERRORS:
            return logic.unavailable(entries)
        if logic.eviction_due():
            await self.check_eviction_policy()
        return results

    async def check_eviction_policy(self) -> EvictionCheck:
        """Ask the server whether it may evict live ids; log a warning if so."""
        try:
            config: object = await self.client.config_get("maxmemory*")
        except _ERRORS:
            config = None
        return self._logic.judge_eviction(config)

    async def healthy(self) -> bool:
        """Can the store answer right now?  One PING (no id is marked); never raises."""
        try:
            return bool(await self.client.ping())
        except _ERRORS:
            return False
