"""Sweeps over every route the app serves, so a new route cannot skip the common rules."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.main import create_app
from tests.factories import create_admin, create_doctor, create_patient, csrf, login

PUBLIC_GET = {
    "/",
    "/login",
    "/register",
    "/healthz",
    "/readyz",
    "/metrics",
    "/set-password/{token}",
    "/openapi.json",
    "/api/docs",
    "/docs/oauth2-redirect",
}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _routes() -> list[tuple[str, str]]:
    app: FastAPI = create_app()
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.original_route.methods):
                found.append((method, context.path))
    return found


ROUTES = _routes()


def _concrete(path: str) -> str:
    """Fill path parameters with ids that exist nowhere."""
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p in ROUTES if m == "GET" and p not in PUBLIC_GET],
)
def test_anonymous_get_is_refused(client: TestClient, method: str, path: str) -> None:
    response = client.get(_concrete(path), follow_redirects=False)

    if path.startswith("/api/"):
        assert response.status_code == 401, response.text
    else:
        assert response.status_code in (303, 401, 422), response.text
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in ROUTES if m in STATE_CHANGING])
def test_state_change_without_csrf_token_is_403(
    client: TestClient, session: Session, method: str, path: str
) -> None:
    login(client, session, create_patient(session))

    response = client.request(method, _concrete(path), data={"x": "1"})

    assert response.status_code == 403, response.text


@pytest.mark.parametrize("role", ["patient", "doctor", "admin"])
def test_no_route_answers_500_to_unknown_ids(
    client: TestClient, session: Session, role: str
) -> None:
    factory = {"patient": create_patient, "doctor": create_doctor, "admin": create_admin}[role]
    token = login(client, session, factory(session))
    failures = []

    for method, path in ROUTES:
        if "{" not in path:
            continue
        headers = {"X-CSRF-Token": token}
        response = client.request(
            method,
            _concrete(path),
            headers=headers,
            data={"csrf_token": token},
            follow_redirects=False,
        )
        if response.status_code >= 500:
            failures.append((method, path, response.status_code))

    assert failures == []


def test_every_api_route_is_documented() -> None:
    schema = create_app().openapi()
    documented = set(schema["paths"])

    api_paths = {p for _, p in ROUTES if p.startswith("/api/v1/")}

    assert api_paths <= documented


def test_csrf_cookie_is_set_on_first_page(client: TestClient) -> None:
    csrf(client)
    client.cookies.clear()

    response = client.get("/login")

    assert "medconsult_csrf=" in response.headers.get("set-cookie", "")
