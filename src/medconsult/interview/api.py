"""Intake interview JSON API: start, answer, finish (the consultation's patient) and read
(the patient or a doctor), under ``/api/v1/consultations/{id}/interview``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from medconsult.auth import CurrentUser
from medconsult.db import SessionDep
from medconsult.interview import service
from medconsult.interview.schemas import (
    AnswerCreate,
    AnswerRead,
    CandidateRead,
    InterviewRead,
    QuestionRead,
)


def read_interview(state: service.InterviewState) -> InterviewRead:
    interview = state.interview
    question = state.question
    return InterviewRead(
        consultation_id=state.consultation.id,
        status=interview.status.value if interview is not None else "not_started",
        next_question=QuestionRead.model_validate(question) if question is not None else None,
        answers=[AnswerRead.model_validate(answer) for answer in state.answers],
        asked=state.asked,
        max_questions=interview.max_questions if interview is not None else None,
        stop_reason=interview.stop_reason if interview is not None else None,
        finished_at=interview.finished_at if interview is not None else None,
        differential=[
            CandidateRead(condition=name, probability=p) for name, p in state.differential
        ],
    )


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
