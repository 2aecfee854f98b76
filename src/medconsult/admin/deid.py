"""De-identification of consultation text for the retraining export.

Rule-based and deliberately greedy: removing a harmless word costs the model little, leaving a
name in costs the patient a lot. Replaced, in this order: e-mail addresses ``[EMAIL]``, web
addresses ``[URL]``, dates (numeric and written, birth dates included) ``[DATE]``, addresses
``[ADDRESS]`` (what follows "I live at/on/in", "my address is", "address:" up to the end of the
clause; a house number with capitalised words and a street suffix, "42 Baker Street"; UK
postcodes; US state + ZIP), phone and other long numbers ``[PHONE]``, then names ``[NAME]``: the
patient's own names as known to the platform, words after a self-introduction ("my name is",
"I am", "I'm", "call me", "this is"), and capitalised words after a title (Mr, Mrs, Ms, Dr, ...).

Not covered (documented limit): names that appear with no cue at all (telling "Tom" from
"Crohn" or "Tylenol" needs a name model this project does not have).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

EMAIL = "[EMAIL]"
URL = "[URL]"
DATE = "[DATE]"
PHONE = "[PHONE]"
NAME = "[NAME]"
ADDRESS = "[ADDRESS]"

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"

_EMAIL_RE = re.compile(
    r"[\w.+%-]+\s*(?:@|\(at\)|\[at\]|\sat\s)\s*[\w-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\sdot\s)\s*[\w-]+)*"
    r"\s*(?:\.|\(dot\)|\[dot\]|\sdot\s)\s*(?:com|org|net|edu|gov|io|co|uk|cn|de|fr|info|me)\b",
    re.IGNORECASE,
)
_PLAIN_EMAIL_RE = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_URL_RE = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_DATE_RES = (
    # 2024-03-12, 2024/3/12
    re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b"),
    # 12/03/2024, 3-12-24, 12.03.1985
    re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\b"),
    # 12 March 2024, 12th of March, 12 Mar
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?(?![a-z])", re.IGNORECASE),
    # March 12, 2024 / March 12th / March 2024
    re.compile(rf"\b{_MONTHS}\s+(?:{_DAY}(?:,?\s+\d{{4}})?|\d{{4}})(?![a-z\d])", re.IGNORECASE),
    # "born in 1985", "DOB 1985": a bare year next to a birth cue
    re.compile(r"(?<=\bborn in\s)\d{4}\b|(?<=\bborn\s)\d{4}\b", re.IGNORECASE),
)
_STREET_SUFFIX = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|way|court|ct|place|pl"
    r"|terrace|close|crescent|square|sq|highway|hwy|parkway|pkwy|gardens|grove|row|walk)"
)
_ADDRESS_RES = (
    # "I live at 42 baker street, flat 3, and ...": the rest of the clause after the cue.
    re.compile(
        r"\b(?P<cue>i live (?:at|on|in)|i'm living (?:at|on|in)|i am living (?:at|on|in)"
        r"|my address is|my address:|address:|living at)\s+"
        # "I live on my own", "I live alone with...": social history, not an address.
        r"(?!(?:my own|alone|by myself|myself|with)\b)"
        r"(?P<address>[^.;:!?\n]+?)(?=[.;:!?\n]|\s+(?:and|but|since|so|for|with|where)\b|$)",
        re.IGNORECASE,
    ),
    # "42 Baker Street", "7a Rue Street", "1200 North Oak Ave.": number, capitalised words, suffix.
    re.compile(rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'-]*\s+){{1,3}}(?i:{_STREET_SUFFIX})\b\.?"),
    # UK postcodes: "NW1 6XE", "SW1A 1AA".
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"),
    # US state and ZIP: "NY 10001", "CA 94103-1234".
    re.compile(r"\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"),
)


def _replace_address(match: re.Match[str]) -> str:
    if "cue" in match.re.groupindex:
        return f"{match.group('cue')} {ADDRESS}"
    return ADDRESS


# Seven or more digits, possibly with a leading + and separators: phone, record or ID numbers.
# Temperatures, doses and blood pressures have fewer digits and stay.
_PHONE_RE = re.compile(r"(?<![\w\[])\+?\(?\d(?:[\d\s().-]*\d)?(?![\w\]])")
_MIN_PHONE_DIGITS = 7

# Any letters (accented too); the callbacks check capitalisation where the cue needs it.
_WORD = r"[^\W\d_][\w'-]*"
_NAME_RUN = rf"(?P<name>{_WORD}(?:\s+{_WORD}){{0,2}})"
_INTRO_ANY_CASE = re.compile(
    rf"\b(?P<cue>my name is|my name's|name:|call me|this is)\s+{_NAME_RUN}",
    re.IGNORECASE,
)
_INTRO_CAPITALISED = re.compile(rf"\b(?P<cue>[Ii] am|[Ii]'m|[Ii]m|I AM|I'M)\s+{_NAME_RUN}")
_TITLE = re.compile(
    r"\b(?P<cue>(?:Mr|Mrs|Ms|Miss|Mx|Dr|Doctor|Prof|Professor|Nurse)\.?)\s+"
    rf"(?P<name>{_WORD}(?:\s+{_WORD})?)"
)
# Words after a cue that end the name: "my name is John and I ...", "I am Feeling ...".
_STOP_WORDS = frozenset(
    re.findall(
        r"\S+",
        """
    a an and are as at be been but by for from had has have having i in is it its my no not of
    on or so that the this to too very was were with who feeling getting going having here now
    really still suffering also always just currently writing worried concerned scared afraid
    tired sick ill unwell fine ok okay well better worse pregnant diabetic allergic asthmatic
    experiencing taking male female years year old aged age age:
""",
    )
)


def _replace_phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return PHONE if digits >= _MIN_PHONE_DIGITS else match.group(0)


def _name_words(match: re.Match[str], *, capitalised: bool) -> str:
    words = match.group("name").split()
    kept: list[str] = []
    for word in words:
        if word.lower().strip("'") in _STOP_WORDS or (capitalised and not word[0].isupper()):
            break
        kept.append(word)
    if not kept:
        return match.group(0)
    rest = match.group("name")[len(" ".join(kept)) :]
    return f"{match.group('cue')} {NAME}{rest}"


def _known_name_parts(names: Iterable[str]) -> list[str]:
    parts: set[str] = set()
    for name in names:
        for part in re.split(r"[\s,]+", name or ""):
            part = part.strip(".'\"()")
            # One-letter initials would erase the letter everywhere; "Dr" is a title, not a name.
            if len(part) >= 2 and part.lower() not in {"dr", "mr", "mrs", "ms", "miss", "mx"}:
                parts.add(part)
    # Longest first so "Annabel" goes before "Ann".
    return sorted(parts, key=len, reverse=True)


def _date_spellings(value: date) -> list[str]:
    return [
        value.isoformat(),
        value.strftime("%d/%m/%Y"),
        value.strftime("%m/%d/%Y"),
        f"{value.day}/{value.month}/{value.year}",
        f"{value.month}/{value.day}/{value.year}",
        value.strftime("%d.%m.%Y"),
    ]


def deidentify(
    text: str,
    *,
    names: Iterable[str] = (),
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    dates: Iterable[date] = (),
) -> str:
    """Replace identifying details in ``text`` with placeholders; see the module docstring.

    ``names``, ``emails``, ``phones`` and ``dates`` are what the platform knows about the
    patient (account and profile); they are removed wherever they appear, in any case.
    """
    result = text
    for known in [*emails, *phones]:
        known = (known or "").strip()
        if len(known) >= 5:
            result = re.sub(re.escape(known), EMAIL if "@" in known else PHONE, result, flags=re.I)
    for known_date in dates:
        for spelling in _date_spellings(known_date):
            result = result.replace(spelling, DATE)
    result = _PLAIN_EMAIL_RE.sub(EMAIL, result)
    result = _EMAIL_RE.sub(EMAIL, result)
    result = _URL_RE.sub(URL, result)
    for pattern in _DATE_RES:
        result = pattern.sub(DATE, result)
    for pattern in _ADDRESS_RES:
        result = pattern.sub(_replace_address, result)
    result = _PHONE_RE.sub(_replace_phone, result)
    for part in _known_name_parts(names):
        result = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", NAME, result, flags=re.IGNORECASE)
    result = _INTRO_ANY_CASE.sub(lambda m: _name_words(m, capitalised=False), result)
    for pattern in (_INTRO_CAPITALISED, _TITLE):
        result = pattern.sub(lambda m: _name_words(m, capitalised=True), result)
    # "[NAME] [NAME]" from a first and a last name reads as one name.
    return re.sub(r"\[NAME\](?:\s+\[NAME\])+", NAME, result)
