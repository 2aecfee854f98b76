"""Patient consultation pages: my consultations, new consultation, the consultation, messages,
report files."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from medconsult.accounts.models import User
from medconsult.auth import CurrentUser, PatientUser
from medconsult.config import get_settings
from medconsult.consultations import files as report_files
from medconsult.consultations import service
from medconsult.consultations.http import read_uploads
from medconsult.consultations.schemas import ConsultationCreate
from medconsult.db import SessionDep
from medconsult.errors import ValidationFailed
from medconsult.interview import service as interview_service
from medconsult.patients import service as patients_service
from medconsult.web.forms import field_messages
from medconsult.web.templating import is_htmx, redirect, redirect_to, render, url_path

router = APIRouter(include_in_schema=False)

# Text fields are checked by the service against settings (clear messages on the form, not a
# bare 422); the request size limit in the middleware bounds them first.
FormText = Annotated[str, Form()]


class ConsultationForm(BaseModel):
    """The new-consultation form as posted: text, checked against ConsultationCreate."""

    chief_complaint: str = ""
    history: str = ""
    past_history: str = ""
    current_medications: str = ""
    ai_consent: str = ""
    idempotency_key: str = ""


@router.get("/consultations", name="consultations:list")
def list_page(request: Request, session: SessionDep, user: PatientUser) -> Response:
    consultations = service.list_own(session, actor=user)
    return render(request, "consultations/list.html", {"consultations": consultations})


def _form_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    settings = get_settings()
    return render(
        request,
        "consultations/new.html",
        {
            "values": values,
            "errors": errors,
            "limits": {
                "text": settings.max_text_chars,
                "files": settings.max_files_per_consultation,
                "file_mb": settings.max_file_bytes // (1024 * 1024),
                "total_mb": settings.max_consultation_bytes // (1024 * 1024),
            },
        },
        status_code=status_code,
    )


@router.get("/consultations/new", name="consultations:new")
def new_page(request: Request, session: SessionDep, user: PatientUser) -> Response:
    profile = patients_service.get_profile(session, actor=user, patient_id=user.id)
    values = {
        "chief_complaint": "",
        "history": "",
        "past_history": profile.chronic_conditions,
        "current_medications": profile.current_medications,
        "idempotency_key": service.new_idempotency_key(),
        "ai_consent": "",
    }
    return _form_page(request, values, {})


@router.post("/consultations/new")
def submit(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    form: Annotated[ConsultationForm, Form()],
    reports: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    values = form.model_dump()
    values["idempotency_key"] = form.idempotency_key or service.new_idempotency_key()
    try:
        data = ConsultationCreate.model_validate(
            {
                **form.model_dump(exclude={"ai_consent", "idempotency_key"}),
                "ai_consent": form.ai_consent in ("on", "true", "1", "yes"),
                "idempotency_key": form.idempotency_key or None,
            }
        )
        consultation, _created = service.submit(
            session, actor=user, data=data, uploads=read_uploads(reports)
        )
    except ValidationError as exc:
        return _form_page(request, values, field_messages(exc.errors()), status_code=422)
    except ValidationFailed as exc:
        return _form_page(request, values, exc.errors, status_code=422)
    return redirect_to(request, "consultations:detail", consultation_id=consultation.id)


@router.get("/consultations/{consultation_id}", name="consultations:detail")
def detail_page(
    request: Request, session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    info = service.detail(session, actor=user, consultation_id=consultation_id)
    messages = service.list_messages(session, actor=user, consultation_id=consultation_id)
    interview = interview_service.state_if_available(
        session, actor=user, consultation_id=consultation_id
    )
    return render(
        request,
        "consultations/detail.html",
        {
            "info": info,
            "consultation": info.consultation,
            "messages": messages,
            "interview": interview,
            "errors": {},
        },
    )


@router.get("/consultations/{consultation_id}/status", name="consultations:status")
def status_fragment(
    request: Request, session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    state = service.analysis_state(session, actor=user, consultation_id=consultation_id)
    if not state.pending and is_htmx(request):
        # The analysis has finished: reload the whole page to show its result.
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    return render(
        request,
        "consultations/_status.html",
        {"consultation_id": consultation_id, "state": state},
    )


@router.get("/consultations/{consultation_id}/messages", name="consultations:messages")
def messages_fragment(
    request: Request, session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    return _messages(request, session, user, consultation_id)


def _messages(
    request: Request,
    session: SessionDep,
    user: User,
    consultation_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    draft: str = "",
) -> Response:
    """The messages fragment (read and audited), with a refused draft and its errors."""
    consultation = service.get_consultation(session, actor=user, consultation_id=consultation_id)
    messages = service.list_messages(session, actor=user, consultation_id=consultation_id)
    return render(
        request,
        "consultations/_messages.html",
        {
            "consultation": consultation,
            "messages": messages,
            "errors": errors or {},
            "draft": draft,
        },
        status_code=422 if errors else 200,
    )


@router.post("/consultations/{consultation_id}/messages")
def post_message(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    consultation_id: uuid.UUID,
    body: FormText = "",
    next_url: Annotated[str, Form(alias="next", max_length=300)] = "",
) -> Response:
    try:
        service.post_message(session, actor=user, consultation_id=consultation_id, body=body)
    except ValidationFailed as exc:
        if not is_htmx(request):
            raise  # a whole page (the error page, with the field's message and a way back)
        return _messages(request, session, user, consultation_id, errors=exc.errors, draft=body)
    if is_htmx(request):
        return _messages(request, session, user, consultation_id)
    return redirect(
        request,
        _local_path(next_url)
        or url_path(
            request, "consultations:detail", consultation_id=consultation_id, fragment="messages"
        ),
    )


def _local_path(url: str) -> str | None:
    """``url`` if it is a path on this site (the doctor's case page posts here too), else None."""
    if url.startswith("/") and not url.startswith(("//", "/\\")) and url.isprintable():
        return url
    return None


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266 header: an ASCII fallback name and the UTF-8 name, both quoted safely."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/consultations/{consultation_id}/reports/{report_id}", name="consultations:report")
def report_file(
    session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID, report_id: uuid.UUID
) -> Response:
    report, data = service.get_report(
        session, actor=user, consultation_id=consultation_id, report_id=report_id
    )
    # Images and text are shown in the browser; a PDF is downloaded (a viewer may run scripts).
    kind = "attachment" if report.content_type == report_files.PDF else "inline"
    return Response(
        content=data,
        media_type=report.content_type,
        headers={
            "Content-Disposition": content_disposition(kind, report.original_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        },
    )
