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


def post(client: TestClient, token: str, business: str = "01101") -> httpx.Response:
    return client.post("/verify", json={"token": token, "business_type": business})


def test_valid_code_gives_the_claims_then_409(client: TestClient, token: str) -> None:
    ok = post(client, token)
    assert ok.status_code == 200
    body = ok.json()
    assert body["cert_type"] == "01"
    assert body["credential_id"] == "E4Q7ZK2M9PXA"
    assert body["insured_region"] == "110105"
    assert body["business_type"] == "01101"
    again = post(client, token)
    assert again.status_code == 409
    assert again.json()["error"] == "replayed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"token": "EC1:AAAA", "business_type": "01101"}, 422, "malformed"),
        ({"token": "x" * 5000, "business_type": "01101"}, 422, "malformed"),
        ({"token": "EC1:AAAA", "business_type": "99999"}, 400, "invalid_argument"),
        ({"token": "EC1:AAAA"}, 400, "invalid_argument"),
        ({"token": 5, "business_type": "01101"}, 400, "invalid_argument"),
        ([], 400, "invalid_argument"),
    ],
)
def test_bad_requests_get_a_code_and_a_message(
    client: TestClient, body: object, status: int, code: str
) -> None:
    response = client.post("/verify", json=body)
    assert response.status_code == status
    answer = response.json()
    assert answer["error"] == code
    assert set(answer) == {"error", "message"}
    assert "EC1:" not in answer["message"]


def test_not_json_is_invalid_argument(client: TestClient) -> None:
    response = client.post(
        "/verify", content=b"\xff\x00", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_argument"


def test_registration_code_cannot_settle(client: TestClient, token: str) -> None:
    response = post(client, token, business="01301")
    assert response.status_code == 422
    assert response.json()["error"] == ErrorCode.WRONG_BUSINESS_TYPE.value
    assert post(client, token).status_code == 200  # the refusal did not burn it


def test_expired_code(client: TestClient, token: str, clock: FixedClock) -> None:
    clock.advance(120)
    response = post(client, token)
    assert response.status_code == 422
    assert response.json()["error"] == "expired"


def test_configuration_from_the_environment(
    service: ModuleType, *, key_dir: Path, clock: FixedClock, token: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECERT_KEYS", str(key_dir))
    monkeypatch.delenv("ECERT_REDIS_URL", raising=False)
    monkeypatch.delenv("ECERT_REPLAY_DB", raising=False)
    # No store named: a fresh in-memory one, whose new memory fences this token.
    with TestClient(service.create_app(clock=clock)) as c:
        assert post(c, token).json()["error"] == "possibly_replayed"
    # A SQLite file that has been in use for an hour (memory began then).
    db = tmp_path / "replay.db"
    SqliteReplayStore(db, clock=lambda: NOW - 3600).close()
    monkeypatch.setenv("ECERT_REPLAY_DB", str(db))
    with TestClient(service.create_app(clock=clock)) as c:
        assert post(c, token).status_code == 200
    with TestClient(service.create_app(clock=clock)) as c:  # a restart remembers
        assert post(c, token).json()["error"] == "replayed"


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
            assert second.status_code == 409
            assert json.loads(second.text)["error"] == "replayed"
    finally:
        proc.terminate()
        proc.wait(10)
