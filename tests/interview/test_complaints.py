"""Which opening questions a patient's own words name, in English and Chinese."""

from __future__ import annotations

import pytest

from medconsult.interview import complaints, questionnaire

PAIN, FEVER, COUGH, SORE_THROAT, BREATHLESS, VOMITING = (
    "E_53",
    "E_91",
    "E_201",
    "E_97",
    "E_66",
    "E_211",
)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Chest pain. A heavy pain in my chest going to my left arm.", {PAIN}),
        ("I have had a fever and a dry cough for three days", {FEVER, COUGH}),
        ("Sore throat since Monday", {PAIN, SORE_THROAT}),
        ("I get short of breath walking upstairs", {BREATHLESS}),
        ("I threw up twice this morning", {VOMITING}),
        ("胸口痛，发烧三天，咳嗽", {PAIN, FEVER, COUGH}),
        ("喉咙痛", {PAIN, SORE_THROAT}),
    ],
)
def test_words_name_their_opening_questions(text: str, named: set[str]) -> None:
    assert named <= complaints.named_openers(text)


def test_words_that_name_no_complaint_name_nothing() -> None:
    assert complaints.named_openers("I would like a check-up, please.") == frozenset()


def test_every_named_question_is_an_opening_question_of_the_questionnaire() -> None:
    assert set(complaints.COMPLAINT_WORDS) <= questionnaire.model().openers
