"""Red flags for the classifier's suggestions: the rules of ``medconsult.triage.rules``.

Triage is not left to the classifier's probabilities: the model only knows 24 mostly
non-emergency conditions and would happily call a heart attack "GERD". Any red flag raises a
suggestion's urgency to ``emergency``. The rules themselves (categories, negation, sentences)
live in ``medconsult.triage.rules`` so that the web process runs them at store time without
this package. Torch-free.
"""

from __future__ import annotations

from medconsult.ml.types import RedFlag, Urgency, most_urgent
from medconsult.triage.rules import find_flags


def find_red_flags(text: str) -> list[RedFlag]:
    """One flag per red-flag category that fires on ``text`` (its first match)."""
    return [
        RedFlag(
            rule_id=flag.category,
            reason=flag.reason,
            matched_text=flag.matched_text,
            start=flag.start,
            end=flag.end,
        )
        for flag in find_flags(text)
    ]


def triage_urgency(default: Urgency, flags: list[RedFlag] | tuple[RedFlag, ...]) -> Urgency:
    """The label's default urgency, raised to emergency by any red flag."""
    return most_urgent(default, "emergency") if flags else default
