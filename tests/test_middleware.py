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
