"""The platform middleware: size limits answered with the app's own 413, the last-resort error
page, and the cache headers of pages and API answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from medconsult.config import get_settings
from medconsult.main import create_app
from tests.factories import create_patient, csrf, login


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("MEDCONSULT_MAX_REQUEST_BYTES", str(64 * 1024))
    get_settings.cache_clear()
    yield 64 * 1024
    get_settings.cache_clear()


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size


class TestTooLarge:
    def test_chunked_form_over_the_limit_is_413_with_the_page(
        self, client: TestClient, session: Session, small_limit: int
    ) -> None:
        token = login(client, session, create_patient(session))

        response = client.post(
            "/consultations/new",
            content=b"csrf_token="
            + token.encode()
            + b"&history="
            + b"".join(_chunks(small_limit * 2)),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Transfer-Encoding": "chunked",
            },
        )

        assert response.status_code == 413
        assert "The request is too large" in response.text
        assert "<h1>" in response.text
        assert "My consultations" in response.text

    def test_chunked_json_over_the_limit_is_413_json(
        self, client: TestClient, session: Session, small_limit: int
    ) -> None:
        login(client, session, create_patient(session))

        response = client.post(
            "/api/v1/consultations",
            content=_chunks(small_limit * 2),
            headers={"Content-Type": "application/json", "X-CSRF-Token": csrf(client)},
        )

        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    def test_declared_length_over_the_limit_is_413_before_reading(
        self, client: TestClient, small_limit: int
    ) -> None:
        response = client.post(
            "/api/v1/auth/login",
            content=b"x" * (small_limit + 1),
            headers={"Content-Type": "application/json"},
        )

        assert response.status_code == 413
        assert "too large" in response.json()["error"]["message"]

    def test_a_multipart_field_over_the_parser_limit_is_413(
        self, client: TestClient, session: Session
    ) -> None:
        token = login(client, session, create_patient(session))

        response = client.post(
            "/consultations/new",
            data={"csrf_token": token, "history": "x" * (1024 * 1024 + 10)},
            files={"reports": ("a.txt", b"small", "text/plain")},
        )

        assert response.status_code == 413
        assert "far too long" in response.text


class TestLastResortErrorPage:
    @pytest.fixture
    def failing_app(self, session_maker: sessionmaker[Session]) -> FastAPI:
        app = create_app(factory=session_maker)

        @app.get("/explode")
        def explode() -> None:
            raise RuntimeError("boom")

        return app

    def test_an_unhandled_error_renders_the_site_page(
        self, failing_app: FastAPI, session: Session
    ) -> None:
        with TestClient(
            failing_app, base_url="https://testserver", raise_server_exceptions=False
        ) as client:
            login(client, session, create_patient(session))

            response = client.get("/explode")

        assert response.status_code == 500
        assert '<html lang="en">' in response.text
        assert "<title>" in response.text
        assert "Something went wrong" in response.text
        assert "My consultations" in response.text
        assert "boom" not in response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"


class TestCacheHeaders:
    def test_pages_are_no_store(self, client: TestClient, session: Session) -> None:
        login(client, session, create_patient(session))

        assert client.get("/consultations").headers["cache-control"] == "no-store"
        assert client.get("/api/v1/patients/me/profile").headers["cache-control"] == "no-store"

    def test_static_files_may_be_cached(self, client: TestClient) -> None:
        response = client.get("/static/css/app.css")

        assert response.status_code == 200
        assert response.headers.get("cache-control") != "no-store"


@pytest.fixture
def tiny_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two connections, no overflow, a one-second wait: the app's threadpool follows."""
    monkeypatch.setenv("MEDCONSULT_DB_POOL_SIZE", "2")
    monkeypatch.setenv("MEDCONSULT_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("MEDCONSULT_DB_POOL_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class TestAdmissionLimit:
    def test_a_burst_beyond_the_pool_waits_its_turn_instead_of_deadlocking(
        self, database_url: str, tiny_pool: None
    ) -> None:
        # Each request reads its session in one threadpool step and runs the route in another,
        # keeping its connection in between. Without admission control, 30 requests at once
        # take both threads while the connections sit with requests waiting for a thread, and
        # every request then ends in the pool's time-out (503).
        from concurrent.futures import ThreadPoolExecutor

        from medconsult.db import make_engine, to_sqlalchemy_url

        engine = make_engine(
            to_sqlalchemy_url(database_url), pool_size=2, max_overflow=0, pool_timeout=1.0
        )
        app = create_app(factory=sessionmaker(bind=engine, expire_on_commit=False))
        try:
            with TestClient(app, base_url="https://testserver") as client:
                client.cookies.set("__Host-medconsult_session", "some-session-token")
                with ThreadPoolExecutor(max_workers=30) as pool:
                    statuses = list(
                        pool.map(
                            lambda _: (
                                client.get("/consultations", follow_redirects=False).status_code
                            ),
                            range(30),
                        )
                    )
        finally:
            engine.dispose()

        assert statuses == [303] * 30  # unknown session: sign in; none refused, none stuck

    def test_waiting_past_the_pool_time_out_is_503_with_retry_after(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        from starlette.responses import PlainTextResponse
        from starlette.types import Receive, Scope, Send

        from medconsult.middleware import AdmissionLimit

        monkeypatch.setenv("MEDCONSULT_MAX_REQUESTS_IN_FLIGHT", "1")
        monkeypatch.setenv("MEDCONSULT_DB_POOL_TIMEOUT_SECONDS", "0.2")
        get_settings.cache_clear()
        release = asyncio.Event()
        handled: list[str] = []

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            handled.append(scope["path"])
            if scope["path"] == "/api/v1/slow":
                await release.wait()
            await PlainTextResponse("done")(scope, receive, send)

        limited = AdmissionLimit(inner)

        async def call(path: str) -> tuple[int, dict[str, str], bytes]:
            messages: list[dict[str, object]] = []

            async def receive() -> dict[str, object]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, object]) -> None:
                messages.append(message)

            scope = {
                "type": "http",
                "method": "GET",
                "path": path,
                "headers": [(b"accept", b"application/json")],
                "query_string": b"",
                "app": FastAPI(),
            }
            await limited(scope, receive, send)  # type: ignore[arg-type]
            start = messages[0]
            headers = {
                k.decode(): v.decode()
                for k, v in start["headers"]  # type: ignore[attr-defined]
            }
            return int(start["status"]), headers, messages[1]["body"]  # type: ignore[return-value, call-overload]

        async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
            slow = asyncio.create_task(call("/api/v1/slow"))
            await asyncio.sleep(0.05)
            refused = await call("/api/v1/refused")
            release.set()
            await slow
            after = await call("/api/v1/after")
            return [slow.result(), refused, after]

        try:
            # A loop of its own, in a thread: other tests (the browser ones) leave one running.
            with ThreadPoolExecutor(max_workers=1) as runner:
                slow, refused, after = runner.submit(asyncio.run, scenario()).result()
        finally:
            get_settings.cache_clear()

        assert refused[0] == 503
        assert refused[1]["retry-after"] == "2"
        assert b'"busy"' in refused[2]
        assert "/api/v1/refused" not in handled  # refused before the app saw it: nothing changed
        assert slow[0] == 200
        assert after[0] == 200  # and the next request is served again
