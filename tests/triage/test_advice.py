"""What the patient is told for each red-flag category."""

from __future__ import annotations

from medconsult.config import Settings
from medconsult.triage.advice import ACTIONS, advice_for
from medconsult.triage.rules import CATEGORIES, find_flags


def test_every_category_has_an_action() -> None:
    assert set(ACTIONS) == set(CATEGORIES)


def test_severe_pain_gets_emergency_advice_and_its_own_action() -> None:
    flags = find_flags("I'm in agony with my hip after a fall and can't get up.")

    advice = advice_for(flags, Settings())

    assert advice is not None
    assert advice.crisis is None
    assert advice.reasons == (CATEGORIES["severe_pain"].reason,)
    assert advice.actions == (ACTIONS["severe_pain"],)
