"""Records JSON API: FHIR ``Patient/$everything``, the printable report, the data download."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medconsult.auth import CurrentUser, PatientUser
from medconsult.db import SessionDep
from medconsult.records import service
from medconsult.records.http import report_response, zip_response
from medconsult.records.schemas import ExportLinkRead

router = APIRouter(tags=["records"])

FHIR_JSON = "application/fhir+json"


@router.get("/fhir/Patient/{patient_id}/$everything", response_class=Response)
def patient_everything(
    request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID
) -> Response:
    bundle = service.patient_everything(
        session,
        actor=user,
        patient_id=patient_id,
        base_url=f"{request.base_url}api/v1/fhir/",
    )
    return Response(
        content=service.export_json(bundle),
        media_type=FHIR_JSON,
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/consultations/{consultation_id}/report.pdf", response_class=Response)
def consultation_report(
    session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    return report_response(session, actor=user, consultation_id=consultation_id)


@router.post("/records/me/export", response_model=ExportLinkRead)
def issue_export_link(request: Request, session: SessionDep, user: PatientUser) -> ExportLinkRead:
    link = service.issue_export_link(session, actor=user)
    url = str(request.url_for("records:api_export", token=link.token))
    return ExportLinkRead(url=url, expires_at=link.expires_at)


@router.get("/records/me/export/{token}", name="records:api_export", response_class=Response)
def download_export(session: SessionDep, user: CurrentUser, token: str) -> Response:
    return zip_response(service.export_archive(session, actor=user, token=token))
