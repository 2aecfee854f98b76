"""Every consultation route, for the owner, another patient, a doctor, an admin and nobody.

Each case checks the status code and that nothing of patient A's consultation appears for
those who may not see it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations import service
from medconsult.consultations.files import UploadedFile
from medconsult.consultations.models import Consultation, ReportFile
from medconsult.consultations.schemas import ConsultationCreate
from tests import factories

SECRET_HISTORY = "Secret history: zebra-striped palpitations"
SECRET_REPORT = b"Secret report: potassium 7.9"
SECRET_MESSAGE = "Secret message: please call me"


@dataclass
class World:
    consultation: Consultation
    report: ReportFile


@pytest.fixture
def world(session: Session) -> World:
    owner = factories.create_patient(session, full_name="Owner Patient")
    consultation, _ = service.submit(
        session,
        actor=owner,
        data=ConsultationCreate(
            chief_complaint="Palpitations",
            history=SECRET_HISTORY,
            ai_consent=True,
            idempotency_key="access-test",
        ),
        uploads=[UploadedFile(filename="potassium.txt", data=SECRET_REPORT)],
    )
    service.post_message(session, actor=owner, consultation_id=consultation.id, body=SECRET_MESSAGE)
    return World(consultation=consultation, report=consultation.reports[0])


ROLES = ("owner", "other_patient", "doctor", "admin", "anonymous")


def _sign_in(client: TestClient, session: Session, role: str, world: World) -> str:
    if role == "anonymous":
        return factories.csrf(client)
    if role == "owner":
        user = session.get(User, world.consultation.patient_id)
        assert user is not None
    else:
        make = {
            "other_patient": factories.create_patient,
            "doctor": factories.create_doctor,
            "admin": factories.create_admin,
        }[role]
        user = make(session)
    return factories.login(client, session, user)


# (method, path template, expected status per role, the secret that must not leak)
WEB_READS = [
    ("/consultations/{c}", SECRET_HISTORY),
    ("/consultations/{c}/status", None),
    ("/consultations/{c}/messages", SECRET_MESSAGE),
    ("/consultations/{c}/reports/{r}", SECRET_REPORT.decode()),
    ("/api/v1/consultations/{c}", SECRET_HISTORY),
    ("/api/v1/consultations/{c}/messages", SECRET_MESSAGE),
]
ALLOWED = {"owner": 200, "doctor": 200}
REFUSED = {"other_patient": 404, "admin": 403}


def _path(template: str, world: World) -> str:
    return template.format(c=world.consultation.id, r=world.report.id)


class TestReadAccess:
    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize(("template", "secret"), WEB_READS)
    def test_status_and_no_foreign_data(
        self,
        client: TestClient,
        session: Session,
        world: World,
        role: str,
        template: str,
        secret: str | None,
    ) -> None:
        _sign_in(client, session, role, world)

        response = client.get(_path(template, world), follow_redirects=False)

        if role == "anonymous":
            expected = 401 if template.startswith("/api/") else 303
        else:
            expected = ALLOWED.get(role) or REFUSED[role]
        assert response.status_code == expected, response.text
        if expected != 200:
            assert secret is None or secret not in response.text
            assert "Palpitations" not in response.text
        elif secret is not None:
            assert secret in response.text


class TestPatientOnlyPages:
    @pytest.mark.parametrize(
        ("role", "expected"),
        [
            ("owner", 200),
            ("other_patient", 200),
            ("doctor", 403),
            ("admin", 403),
            ("anonymous", 303),
        ],
    )
    @pytest.mark.parametrize("path", ["/consultations", "/consultations/new"])
    def test_only_patients(
        self,
        client: TestClient,
        session: Session,
        world: World,
        role: str,
        expected: int,
        path: str,
    ) -> None:
        _sign_in(client, session, role, world)

        response = client.get(path, follow_redirects=False)

        assert response.status_code == expected
        if role != "owner":
            assert "Palpitations" not in response.text

    @pytest.mark.parametrize(
        ("role", "expected"),
        [
            ("owner", 200),
            ("other_patient", 200),
            ("doctor", 403),
            ("admin", 403),
            ("anonymous", 401),
        ],
    )
    def test_api_list(
        self, client: TestClient, session: Session, world: World, role: str, expected: int
    ) -> None:
        _sign_in(client, session, role, world)

        response = client.get("/api/v1/consultations")

        assert response.status_code == expected
        assert ("Palpitations" in response.text) == (role == "owner")


class TestPostingMessages:
    @pytest.mark.parametrize(
        ("role", "expected"),
        [
            ("owner", 303),
            ("doctor", 303),
            ("other_patient", 404),
            ("admin", 403),
            ("anonymous", 401),
        ],
    )
    def test_web_form(
        self, client: TestClient, session: Session, world: World, role: str, expected: int
    ) -> None:
        token = _sign_in(client, session, role, world)

        response = client.post(
            f"/consultations/{world.consultation.id}/messages",
            data={"body": "hello", "csrf_token": token},
            follow_redirects=False,
        )

        assert response.status_code == expected
        assert SECRET_MESSAGE not in response.text

    @pytest.mark.parametrize(
        ("role", "expected"),
        [
            ("owner", 201),
            ("doctor", 201),
            ("other_patient", 404),
            ("admin", 403),
            ("anonymous", 401),
        ],
    )
    def test_api(
        self, client: TestClient, session: Session, world: World, role: str, expected: int
    ) -> None:
        token = _sign_in(client, session, role, world)

        response = client.post(
            f"/api/v1/consultations/{world.consultation.id}/messages",
            json={"body": "hello"},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == expected
        assert SECRET_MESSAGE not in response.text


class TestSubmitting:
    @pytest.mark.parametrize(
        ("role", "expected"),
        [("doctor", 403), ("admin", 403), ("anonymous", 401)],
    )
    @pytest.mark.parametrize("path", ["/consultations/new", "/api/v1/consultations"])
    def test_only_patients_submit(
        self,
        client: TestClient,
        session: Session,
        world: World,
        role: str,
        expected: int,
        path: str,
    ) -> None:
        token = _sign_in(client, session, role, world)

        response = client.post(
            path,
            data={
                "csrf_token": token,
                "chief_complaint": "x",
                "history": "y",
                "ai_consent": "true",
            },
            follow_redirects=False,
        )

        assert response.status_code == expected
