"""The interview's questionnaire (DDXPlus, through ``medconsult.ml.ddxplus``) and its evidence
model, loaded once per process and cached; and the readable forms of questions and answers.

Two caches, because they cost differently: ``texts()`` (the questionnaire: cheap) serves the
pages and the analysis worker's rendering; ``model()`` (fitted on the DDXPlus training rows,
about a second) serves the next-question choice and is built on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from medconsult.config import get_settings
from medconsult.errors import ServiceUnavailable
from medconsult.i18n import _
from medconsult.interview import ddxplus_source, display
from medconsult.interview.engine import NO, YES, Answer, EvidenceModel, Question
from medconsult.ml import ddxplus
from medconsult.ml.errors import DataFormatError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class QuestionView:
    """A question as shown: its text and its options in the user's language."""

    code: str
    kind: str
    text: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class AnswerView:
    """An answer as the doctor reads it: "Do you have a fever?" - "Yes"."""

    code: str
    question: str
    answer: str
    values: tuple[str, ...]
    unknown: bool


def question_view(texts: Texts, question: Question) -> QuestionView:
    """The question with its options: multiple choice every value but "none"; single choice
    every value but "not applicable", which has no meaning once its parent question was
    answered yes ("Don't know" is always offered)."""
    if question.kind == "binary":
        options = tuple(Option(v, display.yes_no(v)) for v in (YES, NO))
    elif question.kind == "scale":
        options = tuple(Option(v, v) for v in question.values)
    else:
        hidden = question.default if question.kind == "multiple" else ddxplus.NOT_APPLICABLE
        options = tuple(
            Option(v, texts.value_text(question.code, v)) for v in question.values if v != hidden
        )
    return QuestionView(question.code, question.kind, texts.question_text(question.code), options)


def answer_view(texts: Texts, answer: Answer) -> AnswerView:
    """The answer in words, in the user's language."""
    question = texts.questions.get(answer.code)
    if answer.unknown:
        words = display.dont_know()
    elif question is not None and question.kind == "binary":
        words = display.yes_no(answer.values[0] if answer.values else NO)
    elif question is not None and question.kind == "multiple" and not answer.values:
        words = _("None of these")
    else:
        words = ", ".join(texts.value_text(answer.code, v) for v in answer.values)
    return AnswerView(
        answer.code, texts.question_text(answer.code), words, answer.values, answer.unknown
    )


@dataclass(frozen=True)
class Texts:
    """The questionnaire: its questions (engine form) and their English texts."""

    questions: dict[str, Question]
    questions_en: dict[str, str]
    values_en: dict[str, dict[str, str]]
    conditions_en: tuple[str, ...]

    def question_text(self, code: str) -> str:
        return display.text_for(self.questions_en.get(code, code), evidence=code)

    def value_text(self, code: str, value: str) -> str:
        english = self.values_en.get(code, {}).get(value, value)
        return display.text_for(english, evidence=code, value=value)

    def condition_text(self, name: str) -> str:
        return display.text_for(name, condition=name)


def data_dir() -> Path:
    """The DDXPlus folder: ``MEDCONSULT_INTERVIEW_DATA_DIR``, else the repository's."""
    return get_settings().interview_data_dir or ddxplus.default_folder()


@lru_cache(maxsize=2)
def _texts(folder: Path) -> Texts:
    questions, questions_en, values_en, conditions_en = ddxplus_source.texts(folder)
    return Texts(questions, questions_en, values_en, conditions_en)


@lru_cache(maxsize=2)
def _model(folder: Path) -> EvidenceModel:
    return ddxplus_source.model(folder)


def texts() -> Texts:
    """The questionnaire of the configured data folder (cached); 503 if it cannot be read."""
    return _from_data(_texts)


def model() -> EvidenceModel:
    """The evidence model fitted on the configured data folder (cached; about a second)."""
    return _from_data(_model)


def _from_data(load: Callable[[Path], T]) -> T:
    """``load`` of the configured data folder; 503 if the folder cannot be read."""
    try:
        return load(data_dir())
    except DataFormatError as exc:
        log.error("intake questionnaire unavailable: %s", exc)
        raise ServiceUnavailable(_("The questions are not available right now.")) from None


def warm_up() -> None:
    """Fit the evidence model now (the web process calls this in a background thread at
    start), so that the first patient to start an interview does not wait for it."""
    try:
        texts()
        model()
    except ServiceUnavailable:
        pass  # logged; the interview answers 503 until the data are there


def structured_answers(answers: Sequence[Answer]) -> ddxplus.Answers:
    """The answers in DDXPlus form ("don't know" left out), as the model of the answers reads
    them."""
    return ddxplus_source.ddxplus_answers(answers, ddxplus.load_questionnaire(data_dir()))


def render(answers: Sequence[Answer]) -> str:
    """The answers as English text for the classifier, by the DDXPlus renderer."""
    return ddxplus_source.render(data_dir(), answers)
