"""Interview schemas: an answer in, the interview (next question, answers so far) out."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

CODE_PATTERN = r"^[A-Za-z0-9_]{1,20}$"


class AnswerCreate(BaseModel):
    """The answer to the question on screen: ``values`` (one for yes/no - ``"yes"``/``"no"`` -,
    single-choice and 0-10 questions; any number for multiple choice, none meaning "none of
    these"), or ``unknown: true`` for "don't know"."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(pattern=CODE_PATTERN)
    values: list[str] = Field(default_factory=list, max_length=200)
    unknown: bool = False


# The questionnaire's views (``questionnaire.QuestionView``...) are read from their attributes.
class OptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    value: str
    label: str


class QuestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    kind: str = Field(description="binary, single, multiple or scale")
    text: str
    options: list[OptionRead]


class AnswerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
