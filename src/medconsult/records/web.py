"""Records pages: the patient's "Your data" page (download, delete account), printable
reports for patients and doctors."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from medconsult.auth import CurrentUser, PatientUser, clear_session_cookie
from medconsult.config import get_settings
from medconsult.db import SessionDep
from medconsult.errors import ValidationFailed
from medconsult.records import service
from medconsult.records.http import report_response, zip_response
from medconsult.web.templating import redirect_to, render

router = APIRouter(include_in_schema=False)


def _data_page(
    request: Request, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    settings = get_settings()
    return render(
        request,
        "records/my_data.html",
        {
            "errors": errors or {},
            "retention_years": settings.record_retention_years,
            "link_minutes": settings.export_link_minutes,
        },
        status_code=status_code,
    )


@router.get("/my-data", name="records:my_data")
def my_data_page(request: Request, user: PatientUser) -> Response:
    return _data_page(request)


@router.post("/my-data/export", name="records:export_link")
def request_export(request: Request, session: SessionDep, user: PatientUser) -> Response:
    link = service.issue_export_link(session, actor=user)
    return redirect_to(request, "records:export", token=link.token)


@router.get("/my-data/export/{token}", name="records:export")
def download_export(session: SessionDep, user: CurrentUser, token: str) -> Response:
    return zip_response(service.export_archive(session, actor=user, token=token))


@router.post("/my-data/delete", name="records:delete")
def delete_account(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        result = service.erase_account(session, actor=user, password=password)
    except ValidationFailed as exc:
        return _data_page(request, errors=exc.errors, status_code=422)
    # The account is gone: the page is shown signed out.
    request.state.user = None
    response = render(
        request,
        "records/deleted.html",
        {"result": result, "retention_years": get_settings().record_retention_years},
    )
    clear_session_cookie(response, get_settings())
    return response


@router.get("/consultations/{consultation_id}/report.pdf", name="records:report")
def consultation_report(
    session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    return report_response(session, actor=user, consultation_id=consultation_id)
