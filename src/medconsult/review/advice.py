"""The reviewed advice library (``ml/advice.json``): patient advice per diagnosis label.

Each entry is written by the clinical team from a named public source (NHS, NICE CKS, WHO) and
reviewed like code. A doctor is offered an entry as an editable draft only after deciding on a
diagnosis; nothing from here reaches a patient before a doctor signs. The texts are message ids:
they are translated where they are shown (``extract_messages`` feeds them to Babel).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

from medconsult.i18n import N_, _
from medconsult.ml.labels import LABELS_FILE

ADVICE_FILE = LABELS_FILE.with_name("advice.json")
SECTIONS = ("self_care", "watch_for", "seek_help_now", "next_steps")

# Headings of the composed draft and the generic safety-netting every conclusion ends with.
SECTION_HEADINGS = {
    "self_care": N_("What you can do yourself"),
    "watch_for": N_("What to watch for"),
    "seek_help_now": N_("Seek help now if"),
    "next_steps": N_("Typical next steps"),
}
GENERIC_SEEK_HELP_NOW = (
    N_("your symptoms get much worse, or new symptoms worry you."),
    N_("you have trouble breathing, chest pain, a fit, or you are confused or very drowsy."),
)  # The same words end the patient's conclusion page (templates/consultations/detail.html).
EMERGENCY_WORDING = N_(
    "In an emergency, call your local emergency number or go to the nearest emergency "
    "department now. Do not wait for a reply through this service."
)

# What the library must never contain: medicine doses, dosing schedules and prescriptions.
# Advice names no medicine amounts; the doctor who treats the patient decides on medicines.
DOSE_PATTERNS = (
    re.compile(r"\d\s*(mg|mcg|µg|ml|g|iu|units?)\b", re.IGNORECASE),
    re.compile(r"\b(mg|mcg|ml|milligrams?|micrograms?|millilit(re|er)s?)\b", re.IGNORECASE),
    re.compile(r"\b(tablets?|capsules?|pills?|puffs?|drops|sachets?)\s+(a|per|each)\s+day\b", re.I),
    re.compile(r"\b(once|twice|\d+\s+times)\s+(a|per|each)\s+day\b", re.IGNORECASE),
    re.compile(r"\b(every|each)\s+\d+\s+hours?\b", re.IGNORECASE),
    re.compile(r"\b(dose|dosage|doses|prescribe|prescribed for you|prescription)\b", re.I),
)


class AdviceLibraryError(ValueError):
    """The advice file is malformed (a developer error caught by the tests)."""


@dataclass(frozen=True)
class AdviceEntry:
    label: str
    version: int
    reviewed_on: str
    source_name: str
    source_url: str
    self_care: tuple[str, ...]
    watch_for: tuple[str, ...]
    seek_help_now: tuple[str, ...]
    next_steps: tuple[str, ...]

    def texts(self) -> Iterator[str]:
        """Every patient-facing text of the entry (untranslated message ids)."""
        for section in SECTIONS:
            yield from getattr(self, section)


def parse_library(document: dict[str, Any]) -> dict[str, AdviceEntry]:
    """Validate and read an advice document: entries keyed by label key."""
    try:
        raw_entries = document["entries"]
        entries = {}
        for label, raw in raw_entries.items():
            lists = {section: tuple(str(line) for line in raw[section]) for section in SECTIONS}
            entries[str(label)] = AdviceEntry(
                label=str(label),
                version=int(raw["version"]),
                reviewed_on=str(raw["reviewed_on"]),
                source_name=str(raw["source"]["name"]),
                source_url=str(raw["source"]["url"]),
                **lists,
            )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise AdviceLibraryError(f"invalid advice library: {exc!r}") from exc
    return entries


@lru_cache(maxsize=1)
def library() -> dict[str, AdviceEntry]:
    """Every entry of the advice library, keyed by label key."""
    with ADVICE_FILE.open(encoding="utf-8") as handle:
        return parse_library(json.load(handle))


def entry_for(label: str | None) -> AdviceEntry | None:
    """The advice entry for a diagnosis label, or None (free-text diagnoses have none)."""
    return library().get(label) if label else None


def dose_violations(text: str) -> list[str]:
    """The dose or prescription phrases found in ``text`` (empty when it is clean)."""
    return [match.group(0) for pattern in DOSE_PATTERNS for match in pattern.finditer(text)]


def compose_draft(entry: AdviceEntry) -> str:
    """The entry as one plain-text draft for the "advice to the patient" field (translated)."""
    blocks = []
    for section in SECTIONS:
        lines = "\n".join(f"- {_(line)}" for line in getattr(entry, section))
        blocks.append(f"{_(SECTION_HEADINGS[section])}:\n{lines}")
    blocks.append(
        _("Source: {source} ({url})").format(source=entry.source_name, url=entry.source_url)
    )
    return "\n\n".join(blocks)


def normalise(text: str) -> str:
    """Text compared for "edited or not": line endings and runs of spaces do not count."""
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


def safety_netting(label: str | None) -> tuple[str, ...]:
    """The "seek help now if ..." lines for a conclusion: the condition's, then the generic ones
    (message ids, translated by the page)."""
    entry = entry_for(label)
    specific = entry.seek_help_now if entry else ()
    return (*specific, *GENERIC_SEEK_HELP_NOW)


def extract_messages(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for the advice file (babel.cfg), so its texts reach the catalogues."""
    document = json.loads(fileobj.read().decode("utf-8"))
    for entry in parse_library(document).values():
        for text in entry.texts():
            yield 0, "_", text, [f"advice library: {entry.label}"]
