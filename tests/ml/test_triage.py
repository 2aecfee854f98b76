from __future__ import annotations

import pytest

from medconsult.ml.triage import find_red_flags, triage_urgency


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("I have crushing chest pain and shortness of breath.", "chest_pain_breathless"),
        ("Tightness in my chest and I can't catch my breath", "chest_pain_breathless"),
        ("My face is drooping on one side and my speech is slurred.", "stroke_signs"),
        ("Sudden weakness on one side of my body", "stroke_signs"),
        ("I have been vomiting blood since this morning", "severe_bleeding"),
        ("The cut has heavy bleeding that won't stop", "severe_bleeding"),
        ("After the peanut my throat is swelling up", "anaphylaxis_throat"),
        ("My lips are swollen and I have difficulty breathing", "anaphylaxis_swelling_breathing"),
        ("I keep having suicidal thoughts", "suicide_self_harm"),
        ("I want to kill myself", "suicide_self_harm"),
        ("I have been cutting myself", "suicide_self_harm"),
        ("I passed out in the kitchen", "loss_of_consciousness"),
        ("I have a stiff neck and a high fever", "stiff_neck_fever"),
        ("I cannot breathe and my lips are turning blue", "severe_breathing_difficulty"),
    ],
)
def test_red_flag_positive(text: str, rule_id: str) -> None:
    flags = find_red_flags(text)
    assert rule_id in {flag.rule_id for flag in flags}
    for flag in flags:
        assert text[flag.start : flag.end] == flag.matched_text
        assert flag.reason


@pytest.mark.parametrize(
    "text",
    [
        "No chest pain or shortness of breath, just a runny nose.",
        "I have chest pain after spicy food.",  # chest pain alone: not this rule
        "I am short of breath when I climb stairs.",  # breathlessness alone
        "I do not have any suicidal thoughts.",
        "I have a fever but no stiff neck.",
        "My neck is stiff from sleeping badly.",  # stiff neck without fever
        "There is some blood in my stool and my anus hurts.",  # not severe bleeding
        "My throat is sore and scratchy.",
        "I have never fainted.",
        "I have a cough and a mild fever.",
    ],
)
def test_red_flag_negative(text: str) -> None:
    assert find_red_flags(text) == []


def test_negation_does_not_cross_a_clause() -> None:
    flags = find_red_flags("I have no fever, but I passed out twice today.")
    assert [flag.rule_id for flag in flags] == ["loss_of_consciousness"]


def test_urgency_is_raised_to_emergency_by_any_flag() -> None:
    flags = find_red_flags("I have chest pain and shortness of breath")
    assert triage_urgency("self-care", flags) == "emergency"
    assert triage_urgency("routine", []) == "routine"
    assert triage_urgency("urgent", []) == "urgent"
