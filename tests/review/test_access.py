"""Who may use each doctor route: patient A (owner), patient B, the claiming doctor, another
doctor, an admin and an anonymous visitor. Each case checks the status code and that a refused
response carries none of the consultation's data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations.models import Consultation
from medconsult.review import service as review_service
from tests.factories import (
    create_admin,
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
    csrf,
    login,
)

SECRET_COMPLAINT = "Secret complaint 7f3a"
SECRET_HISTORY = "Secret history text 9c2e"
PATIENT_NAME = "Hidden Patientname"
ACTORS = ("patient_a", "patient_b", "doctor", "other_doctor", "admin", "anonymous")
REVIEW_FORM = {"decision": "modify", "label_key": "malaria"}
REVIEW_JSON = {"decision": "modify", "label_key": "malaria"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # Expected status per actor, in the order of ACTORS.
    expected: tuple[int, int, int, int, int, int]
    form: dict[str, str] | None = None
    json: dict[str, Any] | None = None


# "doctor" has claimed the case; everyone else has not.
#        patient_a, patient_b, doctor, other_doctor, admin, anonymous
ROUTES = [
    Route(
        "GET",
        "/doctor",
        (403, 403, 200, 200, 403, 303),
    ),
    Route(
        "GET",
        "/doctor/consultations/{id}",
        (403, 403, 200, 200, 403, 303),
    ),
    Route(
        "POST",
        "/doctor/consultations/{id}/claim",
        (403, 403, 409, 409, 403, 401),
        form={},
    ),
    Route(
        "POST",
        "/doctor/consultations/{id}/release",
        (403, 403, 303, 403, 403, 401),
        form={},
    ),
    Route(
        "POST",
        "/doctor/consultations/{id}/review",
        (403, 403, 303, 403, 403, 401),
        form=REVIEW_FORM,
    ),
    Route(
        "GET",
        "/doctor/labels",
        (403, 403, 200, 200, 403, 303),
    ),
    Route(
        "GET",
        "/api/v1/doctor/queue",
        (403, 403, 200, 200, 403, 401),
    ),
    Route(
        "POST",
        "/api/v1/consultations/{id}/claim",
        (403, 403, 409, 409, 403, 401),
    ),
    Route(
        "DELETE",
        "/api/v1/consultations/{id}/claim",
        (403, 403, 200, 403, 403, 401),
    ),
    Route(
        "GET",
        "/api/v1/consultations/{id}/reviews",
        (403, 403, 200, 200, 403, 401),
    ),
    Route(
        "POST",
        "/api/v1/consultations/{id}/reviews",
        (403, 403, 201, 403, 403, 401),
        json=REVIEW_JSON,
    ),
    Route(
        "GET",
        "/api/v1/doctor/labels",
        (403, 403, 200, 200, 403, 401),
    ),
]


def _seed(session: Session) -> tuple[Consultation, dict[str, User | None]]:
    patient_a = create_patient(session, full_name=PATIENT_NAME)
    doctor = create_doctor(session)
    consultation = create_consultation(
        session, patient=patient_a, chief_complaint=SECRET_COMPLAINT, history=SECRET_HISTORY
    )
    create_suggestion(session, consultation=consultation, analysed_text=SECRET_HISTORY)
    review_service.claim(session, actor=doctor, consultation_id=consultation.id)
    actors: dict[str, User | None] = {
        "patient_a": patient_a,
        "patient_b": create_patient(session),
        "doctor": doctor,
        "other_doctor": create_doctor(session),
        "admin": create_admin(session),
        "anonymous": None,
    }
    return consultation, actors


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_access(client: TestClient, session: Session, route: Route, actor: str) -> None:
    consultation, actors = _seed(session)
    user = actors[actor]
    token = login(client, session, user) if user is not None else csrf(client)
    path = route.path.format(id=consultation.id)

    response = client.request(
        route.method,
        path,
        headers={"X-CSRF-Token": token},
        data=None if route.form is None else {"csrf_token": token, **route.form},
        json=route.json,
        follow_redirects=False,
    )

    expected = route.expected[ACTORS.index(actor)]
    assert response.status_code == expected, response.text
    if expected >= 300:
        for secret in (SECRET_COMPLAINT, SECRET_HISTORY, PATIENT_NAME):
            assert secret not in response.text
    if expected == 303 and actor == "anonymous":
        assert response.headers["location"].startswith("/login")
