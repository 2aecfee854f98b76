"""The questionnaire as patients and doctors read it: options and answers in words."""

from __future__ import annotations

from medconsult.interview import questionnaire
from medconsult.interview.engine import Answer
from medconsult.ml import ddxplus

RASH_COLOUR = "E_130"  # single choice, asked after "skin lesions: yes"; its default is NA
LESION_LARGER = "E_135"  # single choice N / Y, whose default is "N"


def test_single_choice_offers_no_not_applicable_option() -> None:
    texts = questionnaire.texts()

    view = questionnaire.question_view(texts, texts.questions[RASH_COLOUR])

    values = [option.value for option in view.options]
    assert ddxplus.NOT_APPLICABLE in texts.questions[RASH_COLOUR].values
    assert ddxplus.NOT_APPLICABLE not in values
    assert [option.label for option in view.options] == [
        "dark",
        "yellow",
        "pale",
        "pink",
        "red",
    ]


def test_a_single_choice_default_that_is_an_answer_stays() -> None:
    texts = questionnaire.texts()

    view = questionnaire.question_view(texts, texts.questions[LESION_LARGER])

    assert [option.label for option in view.options] == ["no", "yes"]


def test_a_stored_not_applicable_answer_reads_as_words() -> None:
    texts = questionnaire.texts()

    view = questionnaire.answer_view(texts, Answer(RASH_COLOUR, (ddxplus.NOT_APPLICABLE,)))

    assert view.answer == "not applicable"
