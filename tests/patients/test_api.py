from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.audit.models import AuditEvent
from tests.factories import create_admin, create_consultation, create_doctor, create_patient, login


class TestReadProfileAudit:
    def test_read_writes_exactly_one_event_with_actor_and_patient(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        create_consultation(session, patient=patient)
        doctor = create_doctor(session)
        login(client, session, doctor)
        before = (
            session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
        )

        response = client.get(f"/api/v1/patients/{patient.id}/profile")

        events = session.scalars(select(AuditEvent).where(AuditEvent.seq > before)).all()
        assert response.status_code == 200
        assert len(events) == 1
        assert events[0].action == "patient.profile.read"
        assert events[0].actor_id == doctor.id
        assert events[0].patient_id == patient.id
        assert events[0].client_address == "testclient"


class TestUpdateProfile:
    def test_update_is_audited_with_field_names_only(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        token = login(client, session, patient)

        response = client.put(
            "/api/v1/patients/me/profile",
            json={"allergies": "penicillin", "sex": "female", "date_of_birth": "1990-04-01"},
            headers={"X-CSRF-Token": token},
        )

        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.profile.update", AuditEvent.actor_id == patient.id
            )
        ).one()
        assert response.status_code == 200
        assert response.json()["allergies"] == "penicillin"
        assert "allergies" in event.details["fields"]
        assert "penicillin" not in str(event.details)

    def test_future_birth_date_rejected_naming_field(
        self, client: TestClient, session: Session
    ) -> None:
        token = login(client, session, create_patient(session))

        response = client.put(
            "/api/v1/patients/me/profile",
            json={"date_of_birth": "2999-01-01"},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 422
        assert "date_of_birth" in response.json()["error"]["fields"]

    def test_unknown_field_rejected(self, client: TestClient, session: Session) -> None:
        token = login(client, session, create_patient(session))

        response = client.put(
            "/api/v1/patients/me/profile", json={"role": "admin"}, headers={"X-CSRF-Token": token}
        )

        assert response.status_code == 422


class TestProfileAccessMatrix:
    """Patient A (owner) vs patient B vs doctor vs admin vs anonymous on A's profile."""

    def _setup(self, session: Session) -> tuple[object, ...]:
        owner = create_patient(session, full_name="Owner Alpha")
        other = create_patient(session, full_name="Other Beta")
        create_consultation(session, patient=owner)
        return owner, other, create_doctor(session), create_admin(session)

    def test_owner_reads_own_profile(self, client: TestClient, session: Session) -> None:
        owner, _, _, _ = self._setup(session)
        login(client, session, owner)  # type: ignore[arg-type]

        response = client.get(f"/api/v1/patients/{owner.id}/profile")  # type: ignore[attr-defined]

        assert response.status_code == 200
        assert "Owner Alpha" in response.text

    def test_other_patient_gets_404_without_data(
        self, client: TestClient, session: Session
    ) -> None:
        owner, other, _, _ = self._setup(session)
        login(client, session, other)  # type: ignore[arg-type]

        api = client.get(f"/api/v1/patients/{owner.id}/profile")  # type: ignore[attr-defined]
        page = client.get(f"/patients/{owner.id}")  # type: ignore[attr-defined]

        assert api.status_code == page.status_code == 404
        assert "Owner Alpha" not in api.text + page.text

    def test_doctor_reads_profile_of_patient_who_consulted(
        self, client: TestClient, session: Session
    ) -> None:
        owner, _, doctor, _ = self._setup(session)
        login(client, session, doctor)  # type: ignore[arg-type]

        response = client.get(f"/patients/{owner.id}")  # type: ignore[attr-defined]

        assert response.status_code == 200
        assert "Owner Alpha" in response.text

    def test_doctor_cannot_read_patient_who_never_consulted(
        self, client: TestClient, session: Session
    ) -> None:
        _, other, doctor, _ = self._setup(session)
        login(client, session, doctor)  # type: ignore[arg-type]

        response = client.get(f"/api/v1/patients/{other.id}/profile")  # type: ignore[attr-defined]

        assert response.status_code == 404
        assert "Other Beta" not in response.text

    def test_admin_gets_403_without_clinical_data(
        self, client: TestClient, session: Session
    ) -> None:
        owner, _, _, admin = self._setup(session)
        login(client, session, admin)  # type: ignore[arg-type]

        response = client.get(f"/api/v1/patients/{owner.id}/profile")  # type: ignore[attr-defined]

        assert response.status_code == 403
        assert "Owner Alpha" not in response.text

    def test_anonymous_gets_401_or_login_redirect(
        self, client: TestClient, session: Session
    ) -> None:
        owner, _, _, _ = self._setup(session)

        api = client.get(f"/api/v1/patients/{owner.id}/profile")  # type: ignore[attr-defined]
        page = client.get(f"/patients/{owner.id}", follow_redirects=False)  # type: ignore[attr-defined]

        assert api.status_code == 401
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")
        assert "Owner Alpha" not in api.text + page.text

    def test_denied_read_is_audited(self, client: TestClient, session: Session) -> None:
        owner, other, _, _ = self._setup(session)
        login(client, session, other)  # type: ignore[arg-type]

        client.get(f"/api/v1/patients/{owner.id}/profile")  # type: ignore[attr-defined]

        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.actor_id == other.id,  # type: ignore[attr-defined]
                AuditEvent.outcome == "denied",
            )
        ).one()
        assert event.patient_id == owner.id  # type: ignore[attr-defined]
