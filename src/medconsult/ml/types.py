"""Result types of the inference service, torch-free so the web app can read stored results.

Every type is a frozen dataclass with a ``to_dict()`` / ``from_dict()`` JSON round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Urgency = Literal["emergency", "urgent", "routine", "self-care"]

# Most urgent first; ``URGENCY_ORDER.index`` gives a rank where smaller is more urgent.
URGENCY_ORDER: tuple[Urgency, ...] = ("emergency", "urgent", "routine", "self-care")


def most_urgent(*levels: Urgency) -> Urgency:
    """The most urgent of the given levels."""
    return min(levels, key=URGENCY_ORDER.index)


def as_urgency(value: str) -> Urgency:
    if value not in URGENCY_ORDER:
        raise ValueError(f"unknown urgency {value!r}; expected one of {', '.join(URGENCY_ORDER)}")
    return value


@dataclass(frozen=True)
class RankedLabel:
    """One suggested diagnosis with its calibrated probability."""

    key: str
    display_name: str
    icd10: str
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "display_name": self.display_name,
            "icd10": self.icd10,
            "probability": self.probability,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RankedLabel:
        return cls(
            key=str(data["key"]),
            display_name=str(data["display_name"]),
            icd10=str(data["icd10"]),
            probability=float(data["probability"]),
        )


@dataclass(frozen=True)
class EvidenceSpan:
    """A span of the original text supporting the top suggestion; ``text == source[start:end]``.

    ``score`` is the span's attribution relative to the strongest span (1.0 = strongest).
    """

    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "score": self.score}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvidenceSpan:
        return cls(
            start=int(data["start"]),
            end=int(data["end"]),
            text=str(data["text"]),
            score=float(data["score"]),
        )


@dataclass(frozen=True)
class RedFlag:
    """A triage rule that matched the text; it forces urgency to emergency."""

    rule_id: str
    reason: str
    matched_text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "reason": self.reason,
            "matched_text": self.matched_text,
            "start": self.start,
            "end": self.end,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RedFlag:
        return cls(
            rule_id=str(data["rule_id"]),
            reason=str(data["reason"]),
            matched_text=str(data["matched_text"]),
            start=int(data["start"]),
            end=int(data["end"]),
        )


@dataclass(frozen=True)
class Suggestion:
    """The classifier's proposal for one text, for a doctor to review.

    ``ranked`` is best first. ``abstained`` means the model declines to suggest a diagnosis,
    for the reasons in ``abstain_reasons``: ``low_confidence`` (the top probability is below the
    threshold chosen on validation data) and/or ``out_of_distribution`` (the text is unlike the
    training cases: ``ood_score`` above the artifact's OOD threshold). The ranking is kept for the
    doctor. ``ood_score`` is None when the model has no OOD statistics (trained before the check
    existed).
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

    @property
    def top(self) -> RankedLabel:
        return self.ranked[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ranked": [item.to_dict() for item in self.ranked],
            "urgency": self.urgency,
            "abstained": self.abstained,
            "evidence": [span.to_dict() for span in self.evidence],
            "red_flags": [flag.to_dict() for flag in self.red_flags],
            "windowed": self.windowed,
            "n_windows": self.n_windows,
            "model_version": self.model_version,
            "abstain_reasons": list(self.abstain_reasons),
            "ood_score": self.ood_score,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suggestion:
        return cls(
            ranked=tuple(RankedLabel.from_dict(item) for item in data["ranked"]),
            urgency=as_urgency(str(data["urgency"])),
            abstained=bool(data["abstained"]),
            evidence=tuple(EvidenceSpan.from_dict(span) for span in data["evidence"]),
            red_flags=tuple(RedFlag.from_dict(flag) for flag in data["red_flags"]),
            windowed=bool(data["windowed"]),
            n_windows=int(data["n_windows"]),
            model_version=str(data["model_version"]),
            abstain_reasons=tuple(str(r) for r in data.get("abstain_reasons", ())),
            ood_score=None if data.get("ood_score") is None else float(data["ood_score"]),
        )
