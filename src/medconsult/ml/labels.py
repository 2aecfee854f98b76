"""Diagnosis label metadata (``labels.json``): display names, ICD-10 codes, default urgency.

Torch-free: the web app uses it to search labels when a doctor picks another diagnosis.
The order of ``labels.json`` is the model's class order (see ``data.LABELS``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from medconsult.ml.errors import DataFormatError
from medconsult.ml.records import JsonRecord
from medconsult.ml.types import Urgency

LABELS_FILE = Path(__file__).with_name("labels.json")


@dataclass(frozen=True)
class LabelInfo(JsonRecord):
    key: str
    display_name: str
    icd10: str
    icd10_title: str
    urgency: Urgency
    description: str
    aliases: tuple[str, ...]
    # The training data sets of the label (symptom2disease, ddxplus).
    sources: tuple[str, ...] = ()
    # The DDXPlus pathology this label covers, with its severity (1 = most severe ... 5).
    ddxplus_name: str | None = None
    ddxplus_severity: int | None = None


def _normalise(name: str) -> str:
    """Spelling-insensitive form of a label name: ``'Common_Cold '`` -> ``'common cold'``."""
    return re.sub(r"[\s_\-]+", " ", name).strip().casefold()


def _label(entry: dict[str, Any]) -> LabelInfo:
    """One labels.json entry: the fields of ``LabelInfo``, with its DDXPlus pathology nested
    (``"ddxplus": {"name", "severity"}``) and ``icd10_title`` optional."""
    fields = {"icd10_title": "", **entry}
    if ddxplus := entry.get("ddxplus"):
        fields |= {"ddxplus_name": ddxplus["name"], "ddxplus_severity": ddxplus["severity"]}
    return LabelInfo.from_dict(fields)


def parse_labels(document: dict[str, Any]) -> tuple[LabelInfo, ...]:
    """Validate and read a labels.json document (also used for the copy inside an artifact)."""
    try:
        entries = document["labels"]
        labels = tuple(_label(entry) for entry in entries)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(f"invalid label metadata: {exc}") from exc
    keys = [label.key for label in labels]
    if len(set(keys)) != len(keys):
        raise DataFormatError("invalid label metadata: duplicate label keys")
    owners: dict[str, str] = {}
    for label in labels:
        for name in {_normalise(n) for n in (label.key, label.display_name, *label.aliases)}:
            if owners.setdefault(name, label.key) != label.key:
                other = owners[name]
                raise DataFormatError(
                    f"invalid label metadata: {name!r} names both {other!r} and {label.key!r}"
                )
    return labels


@lru_cache(maxsize=1)
def all_labels() -> tuple[LabelInfo, ...]:
    """Every label, in the model's class order."""
    with LABELS_FILE.open(encoding="utf-8") as handle:
        return parse_labels(json.load(handle))


@lru_cache(maxsize=1)
def _by_key() -> dict[str, LabelInfo]:
    return {label.key: label for label in all_labels()}


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for label in all_labels():
        for name in (label.key, label.display_name, *label.aliases):
            index[_normalise(name)] = label.key
    return index


def get_label(key: str) -> LabelInfo:
    """The label with this key; ``KeyError`` naming the key if there is none."""
    try:
        return _by_key()[key]
    except KeyError:
        raise KeyError(f"unknown diagnosis label {key!r}") from None


def canonical_key(raw: str) -> str | None:
    """Map a raw label spelling from a data set (``'Acne'``, ``'allergy'``) to its key, or None."""
    return _alias_index().get(_normalise(raw))


def search_labels(
    query: str, limit: int = 20, *, translate: Callable[[str], str] | None = None
) -> list[LabelInfo]:
    """Labels matching a free-text query on name, alias, ICD-10 code or description.

    Ranked: exact ICD-10 code or name, then code or name prefix, then word prefix in a name,
    then substring of a name or alias, then description. An empty query lists every label.
    ``translate`` adds each display name in the reader's language (a doctor working in Chinese
    finds "肺炎" as well as "pneumonia").
    """
    needle = _normalise(query)
    if not needle:
        return list(all_labels())[:limit]
    code_needle = needle.replace(" ", "").upper()
    scored: list[tuple[int, int, LabelInfo]] = []
    for position, label in enumerate(all_labels()):
        translated = (translate(label.display_name),) if translate else ()
        names = [
            _normalise(name)
            for name in (label.display_name, label.key, *label.aliases, *translated)
        ]
        code = label.icd10.upper()
        if code == code_needle or needle in names:
            rank = 0
        elif code.startswith(code_needle) or any(name.startswith(needle) for name in names):
            rank = 1
        elif any(word.startswith(needle) for name in names for word in name.split()):
            rank = 2
        elif any(needle in name for name in names):
            rank = 3
        elif needle in _normalise(label.description) or needle in _normalise(label.icd10_title):
            rank = 4
        else:
            continue
        scored.append((rank, position, label))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [label for _, _, label in scored[:limit]]


def extract_messages(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for ``labels.json`` (babel.cfg): each label's display name and
    plain-language description are message ids, translated where they are shown."""
    for label in parse_labels(json.loads(fileobj.read().decode("utf-8"))):
        yield 0, "_", label.display_name, [f"diagnosis label: {label.key} ({label.icd10})"]
        yield 0, "_", label.description, [f"description of the diagnosis label {label.key}"]
