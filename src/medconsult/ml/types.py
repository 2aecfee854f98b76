"""Result types of the inference service, torch-free so the web app can read stored results.

Every type is a frozen dataclass with a ``to_dict()`` / ``from_dict()`` JSON round trip
(``records.JsonRecord``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from medconsult.ml.records import JsonRecord

Urgency = Literal["emergency", "urgent", "routine", "self-care"]

# Most urgent first; ``URGENCY_ORDER.index`` gives a rank where smaller is more urgent.
URGENCY_ORDER: tuple[Urgency, ...] = ("emergency", "urgent", "routine", "self-care")


def most_urgent(*levels: Urgency) -> Urgency:
    """The most urgent of the given levels."""
    return min(levels, key=URGENCY_ORDER.index)


@dataclass(frozen=True)
class RankedLabel(JsonRecord):
    """One suggested diagnosis with its calibrated probability and the label's default urgency
    (``labels.json``; None in suggestions stored before it was recorded)."""

    key: str
    display_name: str
    icd10: str
    probability: float
    urgency: Urgency | None = None


@dataclass(frozen=True)
class EvidenceSpan(JsonRecord):
    """A span of the original text supporting the top suggestion; ``text == source[start:end]``.

    ``score`` is the span's attribution relative to the strongest span (1.0 = strongest).
    """

    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class RedFlag(JsonRecord):
    """A triage rule that matched the text; it forces urgency to emergency."""

    rule_id: str
    reason: str
    matched_text: str
    start: int
    end: int


@dataclass(frozen=True)
class Suggestion(JsonRecord):
    """The classifier's proposal for one text, for a doctor to review.

    ``ranked`` is best first (the ``top_k`` most probable labels). ``differential`` is the
    differential in the DDXPlus paper's sense: every label the artifact's differential rule keeps
    (probability at its differential temperature at or above its differential threshold, both
    chosen on validation for DDF1), most probable first, each with its calibrated probability;
    empty in suggestions made before it was recorded. For a structured case (intake answers)
    whose artifact has a model of the answers (``ml.structured``), the members are the
    conditions that model keeps, with the classifier's first choice.
    ``abstained`` means the model declines to suggest a diagnosis, for the reasons in
    ``abstain_reasons``: ``low_confidence`` (the top probability is below the threshold chosen on
    validation data) and/or ``out_of_distribution`` (the text is unlike the training cases:
    ``ood_score`` above the artifact's OOD threshold). The ranking is kept for the doctor.
    ``ood_score`` is None when the model has no OOD statistics (trained before the check existed).
    ``urgency`` is the most urgent of the top label's default urgency and any red flag.
    ``windowed`` is true when the text was longer than the model's window and was read as
    ``n_windows`` overlapping windows.
    """

    ranked: tuple[RankedLabel, ...]
    urgency: Urgency
    abstained: bool
    evidence: tuple[EvidenceSpan, ...]
    red_flags: tuple[RedFlag, ...]
    windowed: bool
    n_windows: int
    model_version: str
    abstain_reasons: tuple[str, ...] = ()
    ood_score: float | None = None
    differential: tuple[RankedLabel, ...] = ()

    @property
    def top(self) -> RankedLabel:
        return self.ranked[0]
