"""Interview schemas: an answer in, the interview (next question, answers so far) out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from medconsult.interview.service import InterviewState

CODE_PATTERN = r"^[A-Za-z0-9_]{1,20}$"


class AnswerCreate(BaseModel):
    """The answer to the question on screen: ``values`` (one for yes/no - ``"yes"``/``"no"`` -,
    single-choice and 0-10 questions; any number for multiple choice, none meaning "none of
    these"), or ``unknown: true`` for "don't know"."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(pattern=CODE_PATTERN)
    values: list[str] = Field(default_factory=list, max_length=200)
    unknown: bool = False


class OptionRead(BaseModel):
    value: str
    label: str


class QuestionRead(BaseModel):
    code: str
    kind: str = Field(description="binary, single, multiple or scale")
    text: str
    options: list[OptionRead]


class AnswerRead(BaseModel):
    code: str
    question: str
    answer: str
    values: list[str]
    unknown: bool


class CandidateRead(BaseModel):
    condition: str
    probability: float


class InterviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    consultation_id: uuid.UUID
    status: str = Field(description="not_started, in_progress or finished")
    next_question: QuestionRead | None
    answers: list[AnswerRead]
    asked: int
    max_questions: int | None
    stop_reason: str | None
    finished_at: datetime | None
    # The interview model's leading conditions when it ended: doctors only, else empty.
    differential: list[CandidateRead]


def read_interview(state: InterviewState) -> InterviewRead:
    interview = state.interview
    question = state.question
    return InterviewRead(
        consultation_id=state.consultation.id,
        status=interview.status.value if interview is not None else "not_started",
        next_question=(
            QuestionRead(
                code=question.code,
                kind=question.kind,
                text=question.text,
                options=[OptionRead(value=o.value, label=o.label) for o in question.options],
            )
            if question is not None
            else None
        ),
        answers=[
            AnswerRead(
                code=a.code,
                question=a.question,
                answer=a.answer,
                values=list(a.values),
                unknown=a.unknown,
            )
            for a in state.answers
        ],
        asked=state.asked,
        max_questions=interview.max_questions if interview is not None else None,
        stop_reason=interview.stop_reason if interview is not None else None,
        finished_at=interview.finished_at if interview is not None else None,
        differential=[
            CandidateRead(condition=name, probability=p) for name, p in state.differential
        ],
    )
