"""Intake interview JSON API: start, answer, finish (the consultation's patient) and read
(the patient or a doctor), under ``/api/v1/consultations/{id}/interview``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from medconsult.auth import CurrentUser
from medconsult.db import SessionDep
from medconsult.interview import service
from medconsult.interview.schemas import AnswerCreate, InterviewRead, read_interview

router = APIRouter(prefix="/consultations/{consultation_id}/interview", tags=["interview"])


@router.get("", response_model=InterviewRead)
def get_interview(
    consultation_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> InterviewRead:
    """The interview: the question to answer now (if any) and the answers so far."""
    return read_interview(service.state(session, actor=user, consultation_id=consultation_id))


@router.post("", response_model=InterviewRead, status_code=status.HTTP_201_CREATED)
def start_interview(
    consultation_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> InterviewRead:
    """Start the interview (the patient); starting again returns the same interview."""
    return read_interview(service.start(session, actor=user, consultation_id=consultation_id))


@router.post("/answers", response_model=InterviewRead)
def answer_question(
    consultation_id: uuid.UUID, body: AnswerCreate, session: SessionDep, user: CurrentUser
) -> InterviewRead:
    """Answer ``next_question``; the reply holds the next one, or the finished interview."""
    return read_interview(
        service.answer(session, actor=user, consultation_id=consultation_id, data=body)
    )


@router.post("/finish", response_model=InterviewRead)
def finish_interview(
    consultation_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> InterviewRead:
    """End the interview now, keeping the answers given."""
    return read_interview(service.finish(session, actor=user, consultation_id=consultation_id))
