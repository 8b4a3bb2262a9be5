"""examples/fastapi_service: the verification service, through its HTTP interface."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    InvalidArgument,
    Issuer,
    KeyMaterialError,
)
from ecert_token.aio import ThreadedReplayStore
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import SqliteReplayStore
from tests.conftest import NOW, running_store

from .examples import EXAMPLES, ROOT, load


@pytest.fixture(scope="module")
def service() -> ModuleType:
    return load("fastapi_service/app.py", "ecert_example_service")


@pytest.fixture
def client(service: ModuleType, key_dir: Path, clock: FixedClock) -> Iterator[TestClient]:
    """The service with a replay store that has been running for an hour."""
    store = ThreadedReplayStore(running_store())
    with TestClient(service.create_app(keys_dir=key_dir, replay_store=store, clock=clock)) as c:
        yield c


def post(client: TestClient, token: str, business: str = "01101") -> httpx2.Response:
    return client.post("/verify", json={"token": token, "business_type": business})


def problem_code(response: httpx2.Response | httpx.Response, status: int) -> str:
    """The stable code of an RFC 9457 problem answer, after checking its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "code", "title", "status", "detail"}
    assert body["status"] == status
    assert body["type"] == f"urn:ecert-token:error:{body['code']}"
    assert "EC1:" not in body["detail"]
    code: str = body["code"]
    return code


def test_valid_code_gives_the_claims_then_409(client: TestClient, token: str) -> None:
    ok = post(client, token)
    assert ok.status_code == 200
    body = ok.json()
    assert body["cert_type"] == "01"
    assert body["credential_id"] == "E4Q7ZK2M9PXA"
    assert body["insured_region"] == "110105"
    assert body["business_type"] == "01101"
    assert problem_code(post(client, token), 409) == "replayed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"token": "EC1:AAAA", "business_type": "01101"}, 422, "malformed"),
        ({"token": "x" * 601, "business_type": "01101"}, 422, "malformed"),
        ({"token": "EC1:" + "A" * 597, "business_type": "01101"}, 422, "malformed"),
        ({"token": "EC1:AAAA", "business_type": "99999"}, 400, "invalid_argument"),
        ({"token": "EC1:AAAA"}, 400, "invalid_argument"),
        ({"token": 5, "business_type": "01101"}, 400, "invalid_argument"),
        ([], 400, "invalid_argument"),
    ],
)
def test_bad_requests_get_a_code_and_a_message(
    client: TestClient, body: object, status: int, code: str
) -> None:
    assert problem_code(client.post("/verify", json=body), status) == code


def test_not_json_is_invalid_argument(client: TestClient) -> None:
    response = client.post(
        "/verify", content=b"\xff\x00", headers={"content-type": "application/json"}
    )
    assert problem_code(response, 400) == "invalid_argument"


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/nothing-here", 404, "not_found"),
    ("GET", "/verify", 405, "method_not_allowed"),
    ("DELETE", "/verify", 405, "method_not_allowed"),
])
def test_http_errors_are_problems_too(
    client: TestClient, method: str, path: str, status: int, code: str
) -> None:
    response = client.request(method, path)
    assert problem_code(response, status) == code
    if status == 405:
        assert response.headers["allow"] == "POST"


def test_a_body_over_the_limit_is_refused_before_parsing(
    client: TestClient, service: ModuleType
) -> None:
    """413 for a declared length over the limit and for a chunked body that grows past it.

    The oversized body is not even JSON: it is refused before anyone parses it.
    """
    big = b"{" + b" " * service.MAX_BODY_BYTES + b"}"
    declared = client.post("/verify", content=big, headers={"content-type": "application/json"})
    assert problem_code(declared, 413) == "request_too_large"
    chunked = client.post("/verify", content=iter([big[:100], big[100:]]),
                          headers={"content-type": "application/json"})
    assert problem_code(chunked, 413) == "request_too_large"
    assert problem_code(client.post("/verify", json={"token": "EC1:AAAA",
                                                     "business_type": "01101"}), 422)


def test_a_token_longer_than_the_format_is_not_decoded(
    client: TestClient, service: ModuleType
) -> None:
    """The service's own length check answers, before the verifier decodes anything."""
    long_token = "EC1:" + "A" * (service.MAX_TOKEN_CHARS - 3)
    response = post(client, long_token)
    assert problem_code(response, 422) == "malformed"
    assert response.json()["detail"].endswith(": longer than the format allows")
    at_limit = post(client, "EC1:" + "A" * (service.MAX_TOKEN_CHARS - 4))
    assert problem_code(at_limit, 422) == "malformed"
    assert not at_limit.json()["detail"].endswith(": longer than the format allows")


def test_openapi_lists_the_real_responses(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/verify"]["post"]["responses"]
    assert set(responses) == {"200", "400", "409", "413", "422", "503"}
    ok = responses["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/VerifiedClaims"}
    claims = document["components"]["schemas"]["VerifiedClaims"]
    assert {"credential_id", "insured_region", "business_type", "expires_at"} <= set(
        claims["required"])
    for status in ("400", "409", "413", "422", "503"):
        assert responses[status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "code", "title", "status", "detail"}
    body = document["components"]["schemas"]["VerifyRequest"]["properties"]["token"]
    assert body["maxLength"] == 600
    assert client.get("/docs").status_code == 200


def test_the_test_client_has_no_deprecation_warning() -> None:
    """Starlette's TestClient warns when it runs on httpx instead of httpx2 (dev extra)."""
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import fastapi.testclient"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_registration_code_cannot_settle(client: TestClient, token: str) -> None:
    response = post(client, token, business="01301")
    assert problem_code(response, 422) == ErrorCode.WRONG_BUSINESS_TYPE.value
    assert post(client, token).status_code == 200  # the refusal did not burn it


def test_expired_code(client: TestClient, token: str, clock: FixedClock) -> None:
    clock.advance(120)
    assert problem_code(post(client, token), 422) == "expired"


def test_configuration_from_the_environment(
    service: ModuleType, *, key_dir: Path, clock: FixedClock, token: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECERT_KEYS", str(key_dir))
    monkeypatch.delenv("ECERT_REDIS_URL", raising=False)
    monkeypatch.delenv("ECERT_REPLAY_DB", raising=False)
    # No store named: a fresh in-memory one, whose new memory fences this token.
    with TestClient(service.create_app(clock=clock)) as c:
        assert problem_code(post(c, token), 409) == "possibly_replayed"
    # A SQLite file that has been in use for an hour (memory began then).
    db = tmp_path / "replay.db"
    SqliteReplayStore(db, clock=lambda: NOW - 3600).close()
    monkeypatch.setenv("ECERT_REPLAY_DB", str(db))
    with TestClient(service.create_app(clock=clock)) as c:
        assert post(c, token).status_code == 200
    with TestClient(service.create_app(clock=clock)) as c:  # a restart remembers
        assert problem_code(post(c, token), 409) == "replayed"


def test_configuration_errors_are_ecert_errors(
    service: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECERT_KEYS", raising=False)
    with pytest.raises(InvalidArgument, match="ECERT_KEYS"):
        service.create_app()
    with pytest.raises(KeyMaterialError):
        service.create_app(keys_dir=tmp_path / "missing")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(http: httpx.Client, proc: subprocess.Popen[bytes]) -> None:
    """Poll /healthz until the server answers (at most about 20 s), or fail."""
    for _ in range(200):
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            try:
                proc.wait(0.1)  # a pause that also notices an early exit
            except subprocess.TimeoutExpired:
                continue
            output = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"the service exited: {output}") from None
    raise AssertionError("the service did not start")


@pytest.mark.slow
def test_runs_under_uvicorn(keys: KeyDir, key_dir: Path, credential: Credential) -> None:
    """The documented command line serves real HTTP on loopback."""
    port = free_port()
    db = key_dir.parent / "replay.db"  # in use since an hour before the service starts
    SqliteReplayStore(db, clock=lambda: int(time.time()) - 3600).close()
    env = {**os.environ, "ECERT_KEYS": str(key_dir), "ECERT_REPLAY_DB": str(db),
           "PYTHONPATH": str(ROOT / "src")}
    env.pop("ECERT_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=EXAMPLES / "fastapi_service", env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as http:
            wait_until_up(http, proc)
            token = Issuer(keys.signing_key, keys.group_key).mint(
                credential, BusinessType.PHARMACY_PURCHASE
            )
            first = http.post("/verify", json={"token": token, "business_type": "02121"})
            assert first.status_code == 200, first.text
            assert first.json()["business_class"] == "payment"
            second = http.post("/verify", json={"token": token, "business_type": "02121"})
            assert problem_code(second, 409) == "replayed"
            assert json.loads(second.text)["code"] == "replayed"
            # Problems, the body limit and the OpenAPI over real HTTP as well.
            assert problem_code(http.get("/nothing-here"), 404) == "not_found"
            assert problem_code(http.get("/verify"), 405) == "method_not_allowed"
            big = b"{" + b" " * 10_000 + b"}"
            too_big = http.post("/verify", content=big,
                                headers={"content-type": "application/json"})
            assert problem_code(too_big, 413) == "request_too_large"
            chunked = http.post("/verify", content=iter([big[:10], big[10:]]),
                                headers={"content-type": "application/json"})
            assert problem_code(chunked, 413) == "request_too_large"
            long_token = http.post("/verify", json={"token": "EC1:" + "A" * 700,
                                                    "business_type": "02121"})
            assert problem_code(long_token, 422) == "malformed"
            paths = http.get("/openapi.json").json()["paths"]
            assert set(paths["/verify"]["post"]["responses"]) >= {"200", "400", "409", "422",
                                                                  "503"}
    finally:
        proc.terminate()
        proc.wait(10)
