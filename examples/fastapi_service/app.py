"""A verification service: POST a scanned code, get the verified claims or a clear error.

    ECERT_KEYS=/path/to/keys uvicorn app:create_app --factory --host 127.0.0.1 --port 8000

Request::

    POST /verify
    {"token": "EC1:...", "business_type": "01101"}

Answers:

* ``200`` with the verified claims (``VerifiedToken.to_dict()``);
* ``400`` ``{"error": "invalid_argument", ...}`` for a request that is not
  of that shape or names an unknown business type;
* ``409`` ``{"error": "replayed" | "possibly_replayed", ...}`` for a used code;
* ``422`` ``{"error": CODE, ...}`` for any other rejected code (``expired``,
  ``malformed``, ``wrong_business_type``, ``bad_signature``, ...);
* ``503`` ``{"error": "store_unavailable", ...}`` when the replay store cannot
  answer (the service fails closed).

``GET /healthz`` is liveness (the process answers; no store call);
``GET /readyz`` is readiness: ``200 {"status": "ready"}`` when the replay store
answers its health probe, else ``503`` with the ``store_unavailable`` body.

Configuration, from the environment:

* ``ECERT_KEYS``: a key directory (``ecert keygen --out DIR``);
* ``ECERT_REDIS_URL``: a Redis URL for the replay store shared by every
  instance of the service (needs the ``redis`` extra);
* ``ECERT_REPLAY_DB``: else, a SQLite file shared by the processes of one host;
* neither: each process keeps its own in-memory store.

A replay store whose memory is new (a fresh process with the in-memory store,
a new SQLite file, an empty Redis) refuses codes that could have been used
before it began, as ``possibly_replayed``: those issued before it started and
up to one clock leeway (5 s) after.  A Redis or SQLite store that outlives the
service process avoids that after restarts.

Verification runs through :class:`ecert_token.aio.AsyncVerifier`, so the
replay store's I/O never blocks the event loop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ecert_token import (
    BusinessType,
    EcertError,
    ErrorCode,
    InvalidArgument,
    StoreUnavailable,
    Verifier,
    VerifyPolicy,
)
from ecert_token.aio import AsyncReplayStore, AsyncVerifier, ThreadedReplayStore
from ecert_token.clock import Clock, system_clock
from ecert_token.keys import keydir
from ecert_token.replay import SqliteReplayStore

log = logging.getLogger("ecert.service")

STATUS = {
    ErrorCode.INVALID_ARGUMENT: 400,
    ErrorCode.REPLAYED: 409,
    ErrorCode.POSSIBLY_REPLAYED: 409,
    ErrorCode.STORE_UNAVAILABLE: 503,
}
"""HTTP status per error code; every other rejection is 422."""


class VerifyRequest(BaseModel):
    """The body of ``POST /verify``."""

    token: str
    business_type: str


def redis_store(url: str, max_lifetime: int, clock: Clock) -> AsyncReplayStore:
    """The shared Redis replay store (``redis.asyncio``) for every instance."""
    try:
        from ecert_token.replay.redis import AsyncRedisReplayStore
    except ImportError:
        raise InvalidArgument(
            "ECERT_REDIS_URL needs the async Redis store: pip install 'ecert-token[redis]'"
        ) from None
    store: AsyncReplayStore = AsyncRedisReplayStore.from_url(
        url, max_lifetime=max_lifetime, clock=clock
    )
    return store


def store_from_env(max_lifetime: int, clock: Clock) -> AsyncReplayStore | None:
    """The replay store ``ECERT_REDIS_URL`` or ``ECERT_REPLAY_DB`` names, if any."""
    redis_url = os.environ.get("ECERT_REDIS_URL")
    if redis_url:
        return redis_store(redis_url, max_lifetime, clock)
    replay_db = os.environ.get("ECERT_REPLAY_DB")
    if replay_db:
        return ThreadedReplayStore(SqliteReplayStore(replay_db, max_lifetime, clock))
    return None


def create_app(
    keys_dir: Path | None = None,
    replay_store: AsyncReplayStore | None = None,
    clock: Clock = system_clock,
) -> FastAPI:
    """Build the service; ``keys_dir`` and ``replay_store`` default to the environment."""
    if keys_dir is None:
        env_keys = os.environ.get("ECERT_KEYS")
        if not env_keys:
            raise InvalidArgument("set ECERT_KEYS to a key directory")
        keys_dir = Path(env_keys)
    keys = keydir.load(keys_dir)
    policy = VerifyPolicy(clock=clock)
    if replay_store is None:
        replay_store = store_from_env(policy.max_lifetime + policy.leeway, clock)
    verifier = AsyncVerifier(Verifier(keys.trust_store(), policy), replay_store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # The service owns its store: release its connections on shutdown.
        store = verifier.replay_store
        inner = store.store if isinstance(store, ThreadedReplayStore) else store
        aclose, close = getattr(inner, "aclose", None), getattr(inner, "close", None)
        if aclose is not None:
            await aclose()
        elif close is not None:
            close()

    app = FastAPI(title="ecert-token verification service", lifespan=lifespan)
    app.state.verifier = verifier

    @app.exception_handler(EcertError)
    async def ecert_error(_: Request, err: EcertError) -> JSONResponse:
        # The code is safe to log: messages never hold tokens or personal data.
        log.info("rejected: %s", err.code.value)
        return JSONResponse(err.to_dict(), status_code=STATUS.get(err.code, 422))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, __: RequestValidationError) -> JSONResponse:
        err = InvalidArgument('the body must be JSON {"token": ..., "business_type": ...}')
        return JSONResponse(err.to_dict(), status_code=400)

    @app.post("/verify")
    async def verify(request: VerifyRequest) -> dict[str, object]:
        business = BusinessType.from_code(request.business_type)
        result = await verifier.verify(request.token, business)
        return result.to_dict()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (no store call, so a store outage never
        gets a live process restarted)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    async def readyz() -> dict[str, str] | JSONResponse:
        """Readiness: the replay store answers; else 503 with a problem body, so a load
        balancer sends scans to an instance that can verify them."""
        if await verifier.ready():
            return {"status": "ready"}
        err = StoreUnavailable("the replay store does not answer its health probe")
        return JSONResponse(err.to_dict(), status_code=503)

    return app
