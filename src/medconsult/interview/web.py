"""Intake interview pages: one question at a time as a plain form (htmx swaps the panel in
place when it is there; without it each answer posts and redirects)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from medconsult.auth import CurrentUser
from medconsult.db import SessionDep
from medconsult.errors import Conflict, ValidationFailed
from medconsult.interview import service
from medconsult.interview.schemas import AnswerCreate
from medconsult.web.forms import field_messages
from medconsult.web.templating import is_htmx, redirect_to, render

router = APIRouter(include_in_schema=False)

UNKNOWN = "__unknown__"  # the form value of "Don't know"


def _page(
    request: Request,
    state: service.InterviewState,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    template = "interview/_panel.html" if is_htmx(request) else "interview/page.html"
    return render(
        request,
        template,
        {"state": state, "consultation": state.consultation, "errors": errors or {}},
        status_code=status_code,
    )


def _changed(request: Request, state: service.InterviewState) -> Response:
    """After a change: the new panel for htmx, else back to the page (post, redirect, get)."""
    if is_htmx(request):
        return _page(request, state)
    return redirect_to(request, "interview:page", consultation_id=state.consultation.id)


@router.get("/consultations/{consultation_id}/interview", name="interview:page")
def interview_page(
    request: Request, session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    return _page(request, service.state(session, actor=user, consultation_id=consultation_id))


@router.post("/consultations/{consultation_id}/interview", name="interview:start")
def start(
    request: Request, session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    return _changed(request, service.start(session, actor=user, consultation_id=consultation_id))


@router.post("/consultations/{consultation_id}/interview/answer", name="interview:answer")
def answer(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    consultation_id: uuid.UUID,
    question: Annotated[str, Form(max_length=20)] = "",
    value: Annotated[list[str] | None, Form(max_length=200)] = None,
) -> Response:
    chosen = value or []
    try:
        data = AnswerCreate(
            question=question,
            values=[v for v in chosen if v != UNKNOWN],
            unknown=UNKNOWN in chosen,
        )
        state = service.answer(session, actor=user, consultation_id=consultation_id, data=data)
    except ValidationError as exc:
        errors = field_messages(exc.errors())
    except ValidationFailed as exc:
        errors = exc.errors
    except Conflict:
        # A stale form (the back button, a double click): show the question now on screen.
        return redirect_to(request, "interview:page", consultation_id=consultation_id)
    else:
        return _changed(request, state)
    current = service.state(session, actor=user, consultation_id=consultation_id)
    return _page(request, current, errors=errors, status_code=422)


@router.post("/consultations/{consultation_id}/interview/finish", name="interview:finish")
def finish(
    request: Request, session: SessionDep, user: CurrentUser, consultation_id: uuid.UUID
) -> Response:
    return _changed(request, service.finish(session, actor=user, consultation_id=consultation_id))
