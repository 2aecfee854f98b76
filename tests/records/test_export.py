"""'Download my data': a signed, short-lived link to a zip of the FHIR bundle and the PDFs."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.db import utcnow
from medconsult.errors import Gone, NotFound
from medconsult.records import service
from tests import factories
from tests.records.conftest import PATIENT_EMAIL, PATIENT_NAME, Record


def _audit_count(session: Session, action: str, outcome: Outcome) -> int:
    # Only this test's events: browser tests commit theirs for real, and the trail keeps them.
    since = session.scalar(select(func.max(User.created_at)).where(User.email == PATIENT_EMAIL))
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == action,
                AuditEvent.outcome == outcome,
                AuditEvent.occurred_at >= since,
            )
        )
        or 0
    )


class TestArchive:
    def test_contents(self, session: Session, record: Record) -> None:
        link = service.issue_export_link(session, actor=record.patient)

        data = service.export_archive(session, actor=record.patient, token=link.token)

        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        bundle = json.loads(archive.read("fhir/Patient-everything.json"))
        assert bundle["resourceType"] == "Bundle"
        assert bundle["entry"][0]["resource"]["name"][0]["text"] == PATIENT_NAME
        pdfs = [n for n in names if n.startswith("reports/") and n.endswith(".pdf")]
        assert len(pdfs) == 2
        assert all(archive.read(n).startswith(b"%PDF") for n in pdfs)
        uploads = [n for n in names if n.startswith("uploads/")]
        assert [archive.read(n) for n in uploads] == [b"CRP 85 mg/L, white cells 14.2"]
        assert uploads[0].endswith(f"{record.report.id}.txt")
        assert "README.txt" in names
        assert _audit_count(session, "records.export.download", Outcome.success) == 1

    def test_expired_link(self, session: Session, record: Record) -> None:
        link = service.issue_export_link(
            session, actor=record.patient, now=utcnow() - timedelta(hours=1)
        )

        with pytest.raises(Gone, match="expired"):
            service.export_archive(session, actor=record.patient, token=link.token)

        assert _audit_count(session, "records.export.download", Outcome.denied) == 1
        assert _audit_count(session, "records.export.download", Outcome.success) == 0

    def test_another_patients_link(self, session: Session, record: Record) -> None:
        link = service.issue_export_link(session, actor=record.patient)
        other = factories.create_patient(session, full_name="Other Person")

        with pytest.raises(NotFound, match="not valid"):
            service.export_archive(session, actor=other, token=link.token)

        assert _audit_count(session, "records.export.download", Outcome.denied) == 1

    @pytest.mark.parametrize("mangle", ["extend", "forge", "garbage"])
    def test_altered_link(self, session: Session, record: Record, mangle: str) -> None:
        token = service.issue_export_link(session, actor=record.patient).token
        user_hex, expiry, nonce, signature = token.split(".")
        altered = {
            "extend": f"{user_hex}.{int(expiry) + 86400}.{nonce}.{signature}",
            "forge": f"{user_hex}.{expiry}.{nonce}.{'0' * len(signature)}",
            "garbage": "not-a-token",
        }[mangle]

        with pytest.raises(NotFound):
            service.export_archive(session, actor=record.patient, token=altered)

    def test_doctor_cannot_request_one(self, session: Session, record: Record) -> None:
        from medconsult.errors import Forbidden

        with pytest.raises(Forbidden):
            service.issue_export_link(session, actor=record.doctor)


class TestExportPages:
    def test_request_and_download(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        token = factories.login(client, session, record.patient)

        response = client.post(
            "/my-data/export", data={"csrf_token": token}, follow_redirects=False
        )
        download = client.get(response.headers["location"])

        assert response.status_code == 303
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        assert (
            "fhir/Patient-everything.json"
            in zipfile.ZipFile(io.BytesIO(download.content)).namelist()
        )

    def test_expired_link_page(self, client: TestClient, session: Session, record: Record) -> None:
        factories.login(client, session, record.patient)
        link = service.issue_export_link(
            session, actor=record.patient, now=utcnow() - timedelta(hours=1)
        )

        response = client.get(f"/my-data/export/{link.token}")

        assert response.status_code == 410
        assert "This download link has expired. Please request a new one." in response.text

    def test_foreign_link_page(self, client: TestClient, session: Session, record: Record) -> None:
        link = service.issue_export_link(session, actor=record.patient)
        factories.login(client, session, factories.create_patient(session, full_name="Other"))

        response = client.get(f"/my-data/export/{link.token}")

        assert response.status_code == 404
        assert "This download link is not valid." in response.text
        assert PATIENT_NAME not in response.text

    def test_api_link(self, client: TestClient, session: Session, record: Record) -> None:
        token = factories.login(client, session, record.patient)

        issued = client.post("/api/v1/records/me/export", headers={"x-csrf-token": token})
        download = client.get(issued.json()["url"])

        assert issued.status_code == 200
        assert download.status_code == 200
        assert download.content.startswith(b"PK")

    def test_data_page(self, client: TestClient, session: Session, record: Record) -> None:
        factories.login(client, session, record.patient)

        page = client.get("/my-data")

        assert page.status_code == 200
        assert 'action="/my-data/export"' in page.text
        assert 'action="/my-data/delete"' in page.text
        assert "10 years" in page.text

    def test_data_page_is_for_patients(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        factories.login(client, session, record.doctor)

        assert client.get("/my-data").status_code == 403
