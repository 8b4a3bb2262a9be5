"""A verification service: POST a scanned code, get the verified claims or a clear error.

    ECERT_KEYS=/path/to/keys uvicorn app:create_app --factory --host 127.0.0.1 --port 8000

Request::

    POST /verify
    {"token": "EC1:...", "business_type": "01101"}

Answers (the OpenAPI document at ``/docs`` lists the same):

* ``200`` with the verified claims (``VerifiedToken.to_dict()``, typed as
  :class:`VerifiedClaims`);
* every error is an RFC 9457 problem (``application/problem+json``):
  ``{"type": "urn:ecert-token:error:CODE", "code": CODE, "title": ...,
  "status": ..., "detail": ...}`` where CODE is the library's stable
  :class:`~ecert_token.ErrorCode` value, or for HTTP-level errors
  ``not_found`` (404), ``method_not_allowed`` (405), ``request_too_large`` (413);
* ``400`` ``invalid_argument`` for a request that is not of that shape or
  names an unknown business type;
* ``409`` ``replayed`` or ``possibly_replayed`` for a used code;
* ``413`` ``request_too_large`` for a body over :data:`MAX_BODY_BYTES` (refused
  before the JSON is parsed);
* ``422`` any other rejected code (``expired``, ``malformed``,
  ``wrong_business_type``, ``bad_signature``, ...); a token longer than the
  format allows (:data:`MAX_TOKEN_CHARS`) is ``malformed`` before it is decoded;
* ``503`` ``store_unavailable`` when the replay store cannot answer (the
  service fails closed).

``GET /healthz`` is liveness (the process answers; no store call);
``GET /readyz`` is readiness: ``200 {"status": "ready"}`` when the replay store
answers its health probe, else a ``503`` ``store_unavailable`` problem.

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
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecert_token import (
    BusinessType,
    EcertError,
    ErrorCode,
    InvalidArgument,
    StoreUnavailable,
    TokenRejected,
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

MAX_TOKEN_CHARS = 600
"""The longest token text the format allows (docs/wire-format.md): longer is ``malformed``."""

MAX_BODY_BYTES = 4096
"""The largest request body read; a larger one is refused (413) before it is parsed."""

PROBLEM = "application/problem+json"
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
"""Stable codes of the HTTP-level problems (the library's codes cover the rest)."""


class VerifyRequest(BaseModel):
    """The body of ``POST /verify``."""

    token: str = Field(description="the scanned text, EC1:...",
                       json_schema_extra={"maxLength": MAX_TOKEN_CHARS})
    business_type: str = Field(description="business type code, e.g. 01101",
                               examples=["01101"])


class VerifiedClaims(BaseModel):
    """The ``200`` body: ``VerifiedToken.to_dict()``, codes in their wire form."""

    model_config = ConfigDict(extra="allow")  # fields later versions add pass through

    cert_type: str
    credential_id: str
    actor_id: str | None
    subject_kind: str
    insured_region: str
    insurance_type: str
    masked_name: str
    business_type: str
    business_class: str
    channel: str
    issued_at: int
    expires_at: int
    token_id: str
    issuer: str
    issuer_kid: str
    group_kid: str


class Problem(BaseModel):
    """An RFC 9457 problem: every error answer, whatever its status."""

    type: str = Field(description="urn:ecert-token:error:CODE", examples=[
        "urn:ecert-token:error:replayed"])
    code: str = Field(description="the stable error code", examples=["replayed"])
    title: str = Field(description="the HTTP status phrase")
    status: int
    detail: str = Field(description="a fixed text; never tokens or personal data")


def problem(status: int, code: str, detail: str) -> JSONResponse:
    """An ``application/problem+json`` answer with the stable ``code``."""
    body = Problem(type=f"urn:ecert-token:error:{code}", code=code,
                   title=HTTPStatus(status).phrase, status=status, detail=detail)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM)


def _problem_doc(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("invalid_argument: not {token, business_type}, or an unknown code"),
    409: _problem_doc("replayed or possibly_replayed: the code was (or may have been) used"),
    413: _problem_doc("request_too_large: the body is over MAX_BODY_BYTES"),
    422: _problem_doc("the code is refused: expired, malformed, bad_signature, ..."),
    503: _problem_doc("store_unavailable: the replay store cannot answer (fails closed)"),
}


class BodyLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes before anyone parses it.

    A declared ``Content-Length`` over the limit is refused at the first read;
    a chunked body is counted as it arrives.  Either way the endpoint sees a
    413 ``HTTPException``, answered as a problem like every other error.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        too_large = not declared.isdigit() or int(declared) > self.limit
        received = 0

        async def limited() -> Message:
            nonlocal received
            if too_large:
                raise HTTPException(413)
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413)
            return message

        await self.app(scope, limited, send)


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
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(EcertError)
    async def ecert_error(_: Request, err: EcertError) -> JSONResponse:
        # The code is safe to log: messages never hold tokens or personal data.
        log.info("rejected: %s", err.code.value)
        return problem(STATUS.get(err.code, 422), err.code.value, str(err))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, __: RequestValidationError) -> JSONResponse:
        err = InvalidArgument('the body must be JSON {"token": ..., "business_type": ...}')
        return problem(400, err.code.value, str(err))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        response = problem(exc.status_code, code, HTTPStatus(exc.status_code).description)
        if exc.headers:  # e.g. Allow on a 405
            response.headers.update(exc.headers)
        return response

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with errors as problem+json only (it adds application/json)."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for operations in schema["paths"].values():
                for operation in operations.values():
                    for status, answer in operation.get("responses", {}).items():
                        if status != "200" and PROBLEM in answer.get("content", {}):
                            answer["content"].pop("application/json", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.post("/verify", response_model=VerifiedClaims, responses=RESPONSES)
    async def verify(request: VerifyRequest) -> dict[str, object]:
        """Verify one scanned code for one business step; mark it used."""
        if len(request.token) > MAX_TOKEN_CHARS:  # refused before any decoding
            raise TokenRejected(ErrorCode.MALFORMED, "longer than the format allows")
        business = BusinessType.from_code(request.business_type)
        result = await verifier.verify(request.token, business)
        return result.to_dict()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (no store call, so a store outage never
        gets a live process restarted)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=None, responses={503: RESPONSES[503]})
    async def readyz() -> dict[str, str] | JSONResponse:
        """Readiness: the replay store answers; else 503 with a problem body, so a load
        balancer sends scans to an instance that can verify them."""
        if await verifier.ready():
            return {"status": "ready"}
        err = StoreUnavailable("the replay store does not answer its health probe")
        return problem(503, err.code.value, str(err))

    return app
