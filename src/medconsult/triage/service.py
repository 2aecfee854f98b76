"""Red flags on the consultation itself: set by the rules when it is stored, extended by the
worker's semantic layer, never lowered. Torch-free.

The consultation's ``urgency`` and ``urgency_rank`` are what the doctors' queue sorts on, so a
flagged case goes to the top the moment it is stored, whether or not a model ever runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from medconsult.consultations.models import URGENCY_RANK, Consultation, Urgency
from medconsult.db import utcnow
from medconsult.triage import levels
from medconsult.triage.rules import CATEGORIES, Flag, find_flags


def patient_text(consultation: Consultation) -> str:
    """The patient's own account of the problem: the complaint and its history.

    Past history and medications are left out on purpose ("a stroke in 2015" is not today's
    emergency); the AI analysis still reads them.
    """
    parts = (consultation.chief_complaint or "", consultation.history or "")
    return "\n".join(part.strip() for part in parts if part and part.strip())


def flags_of(consultation: Consultation) -> list[Flag]:
    """The consultation's stored red flags."""
    return [
        Flag.from_dict(item)
        for item in consultation.red_flags or []
        if isinstance(item, dict) and item.get("category") in CATEGORIES
    ]


def _raise_to_emergency(consultation: Consultation) -> None:
    consultation.urgency = Urgency.emergency
    consultation.urgency_rank = URGENCY_RANK[Urgency.emergency]


def triage_on_store(consultation: Consultation) -> list[Flag]:
    """Run the rules on a consultation being stored and record their flags on it."""
    flags = find_flags(patient_text(consultation))
    consultation.red_flags = [flag.to_dict() for flag in flags]
    consultation.triaged_at = utcnow()
    if flags:
        _raise_to_emergency(consultation)
    return flags


def merge_flags(consultation: Consultation, flags: Iterable[Flag]) -> list[Flag]:
    """Add flags (e.g. the semantic layer's) whose category is not flagged yet; the new ones.

    A flag only ever raises urgency: merging never removes a flag or lowers urgency.
    """
    current = flags_of(consultation)
    known = {flag.category for flag in current}
    added = []
    for flag in flags:
        if flag.category in CATEGORIES and flag.category not in known:
            known.add(flag.category)
            added.append(flag)
    if added:
        consultation.red_flags = [flag.to_dict() for flag in (*current, *added)]
    if current or added:
        _raise_to_emergency(consultation)
    return added


def final_urgency(
    consultation: Consultation, *, model_urgency: Urgency, abstained: bool
) -> Urgency:
    """The consultation's urgency once the model has answered: the three levels of
    ``levels.py`` (emergency / see a doctor / self-care).

    Its own red flags make it an emergency whatever the model says; so does a model urgency
    already raised to emergency. Otherwise the patient's text and, when the model answered in
    scope (did not abstain), its top label's default urgency decide between self-care and the
    model's urgent/routine.
    """
    if consultation.red_flags or model_urgency is Urgency.emergency:
        return Urgency.emergency
    in_scope = None if abstained else model_urgency.value
    level = levels.level(patient_text(consultation), flagged=False, model_urgency=in_scope)
    return Urgency(levels.urgency(level, in_scope))
