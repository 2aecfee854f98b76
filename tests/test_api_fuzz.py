"""Property-based fuzzing of the JSON API from its own OpenAPI schema (schemathesis), signed
in as a patient, a doctor and an admin (bearer tokens), through the real request boundary:
whatever the input, the server never answers 5xx."""

from __future__ import annotations

import contextlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.case import Case
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.config import get_settings
from tests import factories

pytestmark = pytest.mark.slow

# Signing out or changing the password ends the token every later example relies on.
SESSION_ENDING = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}


def _bearer(session: Session, role: str) -> str:
    make = {
        "patient": factories.create_patient,
        "doctor": factories.create_doctor,
        "admin": factories.create_admin,
    }[role]
    user = make(session)
    if role == "patient":
        factories.create_consultation(session, patient=user)
    token = accounts_service.start_session(session, user=user, settings=get_settings())
    session.commit()
    return token


@pytest.fixture
def patient_bearer(session: Session) -> str:
    return _bearer(session, "patient")


@pytest.fixture
def doctor_bearer(session: Session) -> str:
    return _bearer(session, "doctor")


@pytest.fixture
def admin_bearer(session: Session) -> str:
    return _bearer(session, "admin")


FUZZ = settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _fuzz(app: object, bearer: str) -> int:
    """Every operation of the schema, a few examples each; returns how many cases ran."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ran = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SESSION_ENDING:
            continue

        @FUZZ
        @given(case=operation.as_strategy())
        def check(case: Case) -> None:
            nonlocal ran
            ran += 1
            response = case.call(headers={"Authorization": f"Bearer {bearer}"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path}: {response.status_code}")
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        # Collected in failures: every operation is still exercised after one fails.
        with contextlib.suppress(AssertionError):
            check()
    assert failures == []
    return ran


def test_as_patient(app: object, patient_bearer: str) -> None:
    assert _fuzz(app, patient_bearer) >= 200


def test_as_doctor(app: object, doctor_bearer: str) -> None:
    assert _fuzz(app, doctor_bearer) >= 200


def test_as_admin(app: object, admin_bearer: str) -> None:
    assert _fuzz(app, admin_bearer) >= 200
