"""AI suggestions: compose the analysed text, store suggestions, read them back for people.

Torch-free: the worker hands in a ``medconsult.ml.types.Suggestion``; pages read stored rows.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from medconsult.consultations.models import URGENCY_RANK, Consultation, Urgency
from medconsult.db import utcnow
from medconsult.diagnosis.models import AISuggestion
from medconsult.i18n import N_, _
from medconsult.ml.labels import get_label
from medconsult.ml.language import UNSUPPORTED_LANGUAGE
from medconsult.ml.types import RankedLabel, Suggestion
from medconsult.triage import service as triage_service

# How many suggestions a patient sees; doctors see the full stored ranking.
PATIENT_TOP_K = 3
# Plain-language bands instead of raw probabilities (UX: patients never see bare percentages).
MOST_LIKELY_MIN = 0.5
POSSIBLE_MIN = 0.15

_SECTION_TITLES = (
    ("chief_complaint", "Chief complaint"),
    ("history", "History of the present illness"),
    ("past_history", "Past history"),
    ("current_medications", "Current medications"),
)
INTAKE_TITLE = "Intake questionnaire"


REPORT_TITLE = "Report"
_TITLE_PATTERN = re.compile(
    "(?m)^(?:"
    + "|".join(
        re.escape(title)
        for _attr, title in (*_SECTION_TITLES, ("", INTAKE_TITLE), ("", REPORT_TITLE))
    )
    + "): "
)


def section_title_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the section titles that compose_analysed_text adds."""
    return [match.span() for match in _TITLE_PATTERN.finditer(text)]


def without_section_titles(text: str) -> str:
    """``text`` as the classifier reads it: the section titles that compose_analysed_text adds
    blanked out with spaces. The same length, so the evidence offsets still point into
    ``text`` as stored and shown; the tokenizer skips the spaces. The model was trained and
    calibrated on patients' words, not on this layout: wrapped in the titles, in-scope
    Symptom2Disease validation texts were set aside as unlike the training data 26 % of the
    time against 12 % with the titles blanked (README, "Out of scope")."""
    characters = list(text)
    for start, end in section_title_spans(text):
        characters[start:end] = " " * (end - start)
    return "".join(characters)


def evidence_outside_titles(
    evidence: list[dict[str, Any]], analysed_text: str
) -> list[dict[str, Any]]:
    """Drop evidence on our own section titles: they are layout, not what the patient said."""
    titles = section_title_spans(analysed_text)
    return [
        span
        for span in evidence
        if not any(int(span["start"]) < end and int(span["end"]) > start for start, end in titles)
    ]


def compose_analysed_text(consultation: Consultation, *, max_chars: int, intake: str = "") -> str:
    """The text the classifier reads: the patient's own words first, then their intake
    answers rendered as text (``intake``), then report text.

    Bounded by ``max_chars`` (the classifier refuses longer texts): the patient's sections come
    first because they describe the complaint; report text fills what room is left.
    """
    parts: list[str] = []
    for attribute, title in _SECTION_TITLES:
        value = str(getattr(consultation, attribute) or "").strip()
        if value:
            parts.append(f"{title}: {value}")
    if intake.strip():
        parts.append(f"{INTAKE_TITLE}: {intake.strip()}")
    for report in consultation.reports:
        extracted = (report.extracted_text or "").strip()
        if extracted:
            parts.append(f"{REPORT_TITLE}: {extracted}")
    return "\n\n".join(parts)[:max_chars].strip()


def _ranked_rows(items: Sequence[RankedLabel]) -> list[dict[str, Any]]:
    return [
        {
            "label": item.key,
            "display_name": item.display_name,
            "icd10": item.icd10,
            "probability": item.probability,
            "urgency": item.urgency,
        }
        for item in items
    ]


def store_suggestion(
    session: Session, *, consultation: Consultation, suggestion: Suggestion, analysed_text: str
) -> AISuggestion:
    """Store a new current suggestion (the previous one is kept, superseded) and sync urgency.

    The caller holds the consultation row lock, so concurrent writers queue up here; the partial
    unique index on ``is_current`` is the last line of defence.
    """
    session.execute(
        update(AISuggestion)
        .where(is_current_suggestion_of(consultation.id))
        .values(is_current=False, superseded_at=utcnow())
    )
    top = suggestion.ranked[0] if suggestion.ranked else None
    row = AISuggestion(
        consultation_id=consultation.id,
        model_version=suggestion.model_version,
        ranked=_ranked_rows(suggestion.ranked),
        differential=_ranked_rows(suggestion.differential),
        top1_label=top.key if top else None,
        top1_probability=top.probability if top else None,
        urgency=suggestion.urgency,
        abstained=suggestion.abstained,
        abstain_reasons=list(suggestion.abstain_reasons),
        ood_score=suggestion.ood_score,
        evidence=evidence_outside_titles(
            [span.to_dict() for span in suggestion.evidence], analysed_text
        ),
        red_flags=[flag.to_dict() for flag in suggestion.red_flags],
        windowed=suggestion.windowed,
        n_windows=suggestion.n_windows,
        analysed_text=analysed_text,
        is_current=True,
    )
    session.add(row)
    # The consultation's own red flags (set at store time) are never lowered by a model; the
    # three-level triage decides between self-care and seeing a doctor.
    urgency = triage_service.final_urgency(
        consultation, model_urgency=Urgency(suggestion.urgency), abstained=suggestion.abstained
    )
    consultation.urgency = urgency
    consultation.urgency_rank = URGENCY_RANK[urgency]
    session.flush()
    return row


def is_current_suggestion_of(
    consultation_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID] | uuid.UUID,
) -> ColumnElement[bool]:
    """The one rule for "the consultation's current suggestion", for a look-up by id or a join
    on the consultation's id column (at most one row: a unique index guards it)."""
    return and_(AISuggestion.consultation_id == consultation_id, AISuggestion.is_current)


def current_suggestion(session: Session, *, consultation_id: uuid.UUID) -> AISuggestion | None:
    """The consultation's current AI suggestion, or None if it has not been analysed."""
    return session.scalar(select(AISuggestion).where(is_current_suggestion_of(consultation_id)))


def confidence_band(probability: float, *, rank: int, abstained: bool = False) -> str:
    """Plain words for a calibrated probability; only the first suggestion can be 'most likely',
    and not when the model abstained (it was not confident enough to name one)."""
    if rank == 0 and not abstained and probability >= MOST_LIKELY_MIN:
        return "most_likely"
    if probability >= POSSIBLE_MIN:
        return "possible"
    return "less_likely"


# Why the model abstained, in the doctor's words (keys: medconsult.ml.ood).
ABSTAIN_REASON_LABELS = {
    "low_confidence": N_(
        "Low confidence: no suggestion reached the model's probability threshold."
    ),
    "out_of_distribution": N_(
        "Unlike the training data: this text is far from every case the model was trained on, "
        "so the ranking below may mean nothing."
    ),
    UNSUPPORTED_LANGUAGE: N_(
        "Unsupported language: the text is mostly Chinese and the diagnostic model reads only "
        "English, so it made no suggestion. Review the text yourself, or ask the patient to "
        "complete the structured interview."
    ),
}


def abstain_reason_labels(suggestion: AISuggestion) -> tuple[str, ...]:
    """The doctor's explanation of each reason the suggestion abstained, translated."""
    reasons = list(suggestion.abstain_reasons or [])
    if suggestion.abstained and not reasons:  # stored before reasons were recorded
        reasons = ["low_confidence"]
    return tuple(_(ABSTAIN_REASON_LABELS[r]) for r in reasons if r in ABSTAIN_REASON_LABELS)


BAND_LABELS = {
    "most_likely": N_("Most likely"),
    "possible": N_("Possible"),
    "less_likely": N_("Less likely"),
}


@dataclass(frozen=True)
class PatientSuggestionItem:
    display_name: str
    band: str
    band_label: str
    description: str = ""


@dataclass(frozen=True)
class PatientSuggestionView:
    """What a patient sees of an AI suggestion: bands and words, never raw probabilities."""

    items: tuple[PatientSuggestionItem, ...]
    urgency: str
    red_flag_reasons: tuple[str, ...]
    abstained: bool
    created_at: Any
    # The model could not read the text (mostly Chinese): the page says so plainly.
    unsupported_language: bool = False


def patient_view(suggestion: AISuggestion) -> PatientSuggestionView:
    """Reduce a stored suggestion to the patient's view (top 3, bands, urgency, red flags).

    When the model abstained, for either reason, the patient sees no diagnoses at all: the page
    says that the AI could not suggest one and that a doctor will review it (the ranked list stays
    for the doctor)."""
    items = (
        ()
        if suggestion.abstained
        else tuple(
            PatientSuggestionItem(
                display_name=_(str(row.get("display_name") or row.get("label") or "")),
                description=_label_description(str(row.get("label") or "")),
                band=(
                    band := confidence_band(
                        float(row.get("probability", 0.0)),
                        rank=rank,
                        abstained=suggestion.abstained,
                    )
                ),
                band_label=_(BAND_LABELS[band]),
            )
            for rank, row in enumerate(suggestion.ranked[:PATIENT_TOP_K])
        )
    )
    reasons = tuple(
        dict.fromkeys(_(str(flag.get("reason", ""))) for flag in suggestion.red_flags if flag)
    )
    return PatientSuggestionView(
        items=items,
        urgency=suggestion.urgency,
        red_flag_reasons=tuple(r for r in reasons if r),
        abstained=suggestion.abstained,
        created_at=suggestion.created_at,
        unsupported_language=UNSUPPORTED_LANGUAGE in (suggestion.abstain_reasons or []),
    )


def _label_description(key: str) -> str:
    """The plain-language description of a diagnosis label, translated ("" if unknown)."""
    try:
        return _(get_label(key).description)
    except KeyError:
        return ""
