# ruff: noqa: E501  (a table of patterns: one alternative per line reads best)
"""Red-flag rules: the standard emergency discriminators of public triage guidance, as regular
expressions over the patient's own words, with negation. Torch-free; runs at store time.

Sources of the discriminators (general, never any one case): the NHS "call 999" and "go to A&E"
lists (nhs.uk), the Manchester Triage System's general discriminators (life threat, pain,
haemorrhage, conscious level, temperature, acuteness of onset), the Emergency Severity Index
level 1-2 criteria, NEWS2 (Royal College of Physicians 2017) and NICE guidelines (NG51 sepsis,
NG41 spinal injury, NG133 hypertension in pregnancy). Rules err on the side of flagging (a
doctor reviews every flag); a phrase preceded in its clause by a negation cue ("no chest pain",
"I'm not suicidal") raises nothing.

A rule is a ``pattern`` over the text, optionally with ``requires``: a companion finding that
must also be present (not negated) somewhere in the text, e.g. chest pain *with* sweating;
``unless``: a finding that switches the rule off (a child's age for adult thresholds, chronic or
usual pain); ``gate``: a test of the whole text (NEWS2's aggregate over the readings). Each
flag records the category, the sentence that raised it and the matched words; the plain-language
reason comes from ``CATEGORIES`` and is translated where it is shown.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from medconsult.i18n import N_
from medconsult.ml.records import JsonRecord
from medconsult.triage import rules_zh

# --- categories ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    key: str
    # Plain-language reason for the patient and the doctor (an English msgid, translated on show).
    reason: str
    # Which advice the patient's banner gives: "emergency" (call the emergency number / go to
    # the emergency department) or "crisis" (call now even if you feel fine, plus a crisis line).
    advice: str = "emergency"


_CATEGORY_LIST = (
    Category("chest_pain", N_("Chest pain that could be a heart attack")),
    Category("stroke", N_("Signs of a possible stroke (face, arm, speech: act FAST)")),
    Category("thunderclap_headache", N_("A sudden, severe headache that needs checking at once")),
    Category("meningitis", N_("Signs of possible meningitis")),
    Category("anaphylaxis", N_("Signs of a severe allergic reaction (anaphylaxis)")),
    Category("overdose_poisoning", N_("A possible overdose or poisoning"), advice="crisis"),
    Category("suicidal", N_("Thoughts of suicide or a plan to end your life"), advice="crisis"),
    Category("self_harm", N_("Self-harm"), advice="crisis"),
    Category(
        "harm_to_others",
        N_("A risk of seriously harming someone else (intent, or voices telling you to)"),
        advice="crisis",
    ),
    Category("severe_bleeding", N_("Heavy or internal bleeding")),
    Category("sepsis", N_("Signs of a possible serious infection (sepsis)")),
    Category("breathing", N_("Severe difficulty breathing")),
    Category("altered_consciousness", N_("Fainting, collapse, drowsiness or sudden confusion")),
    Category("seizure", N_("A seizure (fit)")),
    Category("head_injury", N_("A head injury with warning signs")),
    Category("diabetic_emergency", N_("A possible diabetic emergency (very high or low sugar)")),
    Category("cauda_equina", N_("Back pain with numbness or bladder or bowel changes")),
    Category("ectopic_pregnancy", N_("Pain or bleeding in early pregnancy")),
    Category("testicular_torsion", N_("Sudden pain in a testicle")),
    Category("severe_abdominal_pain", N_("Severe stomach (abdominal) pain")),
    Category("infant_fever", N_("A fever in a baby under 3 months old")),
    Category("severe_burn", N_("A serious burn")),
    Category("vision_loss", N_("Sudden loss of sight")),
    Category("ingestion", N_("A swallowed button battery, magnet or caustic chemical")),
    Category("severe_pain", N_("Severe pain that needs to be seen straight away")),
    Category(
        "serious_injury",
        N_(
            "A serious injury (a badly broken bone, a stab wound, an eye injury or a major accident)"
        ),
    ),
    Category(
        "pregnancy_warning",
        N_(
            "A warning sign in pregnancy (the baby moving less, waters breaking early, pre-eclampsia)"
        ),
    ),
    Category(
        "vital_signs",
        N_(
            "Measurements in the danger zone (very low blood pressure or oxygen, very fast pulse or breathing)"
        ),
    ),
)
CATEGORIES: dict[str, Category] = {category.key: category for category in _CATEGORY_LIST}


# --- the flag -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag(JsonRecord):
    """One red flag: its category, the patient's sentence that raised it, the matched words."""

    category: str
    sentence: str
    matched_text: str
    start: int
    end: int
    layer: str = "rules"  # "rules" or "semantic"
    score: float | None = None  # semantic similarity, for the semantic layer

    @property
    def reason(self) -> str:
        """The plain-language reason, untranslated (the English msgid)."""
        return CATEGORIES[self.category].reason

    def to_dict(self) -> dict[str, Any]:
        # With the derived reason (the English msgid) too, stored after the category.
        return {"category": self.category, "reason": self.reason} | super().to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Flag:
        # A stored flag may lack its sentence, match and position: read as empty.
        return super().from_dict({"sentence": "", "matched_text": "", "start": 0, "end": 0, **data})


# --- sentences and negation ---------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[\u3002\uff01\uff1f\uff1b])\s*|\n+|;\s*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty sentence of ``text``."""
    return list(_sentence_spans(text))


@lru_cache(maxsize=64)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    # Cached: a rule whose companion must be in the same sentence asks once per match.
    spans: list[tuple[int, int]] = []
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        if text[start : boundary.start()].strip():
            spans.append((start, boundary.start()))
        start = boundary.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return tuple(spans)


def sentence_at(text: str, position: int) -> str:
    """The sentence of ``text`` that contains ``position``."""
    spans = _sentence_spans(text)
    index = bisect.bisect_right([start for start, _end in spans], position) - 1
    if index >= 0 and position < spans[index][1]:
        start, end = spans[index]
        return text[start:end].strip()
    return text.strip()


# Negation cues count only inside the clause before a match, at most this many words back.
NEGATION_WINDOW_WORDS = 6
NEGATION = re.compile(
    r"\b(?:no|not|never|without|denies|denied|deny|denying|none|neither|nor|negative\s+for"
    r"|free\s+of|ruled\s+out|absence\s+of)\b|n't\b|\bnot\s+any\b",
    re.IGNORECASE,
)
# A clause ends at punctuation, a contrast word or a fresh statement ("..., and I have");
# negation does not cross it: "no fever but crushing chest pain" still flags.
CLAUSE_BOUNDARY = re.compile(
    r"[.;:!?\n]|,\s+and\b|\bbut\b|\bhowever\b|\balthough\b|\bthough\b|\bexcept\b|\bnow\b"
    r"|,?\s*\band\s+(?:i|she|he|they|my|his|her|their|it)\s+(?:have|has|had|am|is|was|were|are"
    r"|feel|feels|felt|keep|keeps|started|suddenly|then|now|also)\b"
    r"|,\s*(?:i|she|he|my|his|her)\s+(?:have|has|had|am|is|was|feel|feels|felt)\b",
    re.IGNORECASE,
)


# Clinical negation scopes over a whole list, up to the next statement: "denies fever, chills,
# headache, photophobia or neck stiffness".
LIST_NEGATION = re.compile(
    r"\b(?:denies|denied|deny|denying|negative\s+for|no\s+history\s+of|no\s+signs?\s+of"
    r"|no\s+evidence\s+of|nor)\b",
    re.IGNORECASE,
)
# A reporting verb starts a new statement: "denies fever and reports crushing chest pain".
_STATEMENT_VERBS = (
    r"reports?|reported|reporting|complains?|complained|complaining|presents?|presented"
    r"|presenting|describes?|described|states?|stated|endorses?|endorsed|admits?|admitted"
    r"|develop(?:s|ed)?"
)
STATEMENT = re.compile(r"\b(?:" + _STATEMENT_VERBS + r")\b", re.IGNORECASE)
LIST_BOUNDARY = re.compile(
    r"[.;:!?\n]|\b(?:but|however|although|though|except|now|has|had|is|was|feels?|felt|"
    + _STATEMENT_VERBS
    + r")\b",
    re.IGNORECASE,
)
# A finding said to be in the past is not today's emergency: "a stroke last year", "I used to
# self-harm", "history of seizures". Checked inside the clause, right before or after the match.
PAST_BEFORE = re.compile(
    r"\b(?:used\s+to|history\s+of|h/o|prior|previous|previously\s+(?:had|diagnosed))\b",
    re.IGNORECASE,
)
PAST_AFTER = re.compile(
    r"^[^.;:!?\n]{0,40}?\b(?:(?:a|one|two|three|four|five|six|several|many|\d+)\s+(?:years?|months?)"
    r"\s+ago|last\s+(?:year|month)|years\s+ago|in\s+(?:19|20)\d\d|as\s+a\s+(?:child|teenager|teen|kid))\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=64)
def _ends(pattern: re.Pattern[str], text: str) -> tuple[int, ...]:
    """Where each match of ``pattern`` in ``text`` ends (cached: every rule asks again)."""
    return tuple(match.end() for match in pattern.finditer(text))


@lru_cache(maxsize=64)
def _spans(pattern: re.Pattern[str], text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where each match of ``pattern`` in ``text`` starts, and where it ends (cached)."""
    matches = list(pattern.finditer(text))
    return tuple(m.start() for m in matches), tuple(m.end() for m in matches)


def _matches_within(pattern: re.Pattern[str], text: str, start: int, end: int) -> bool:
    """Whether a match of ``pattern`` lies wholly inside ``text[start:end]``, from the cached
    matches: a search per finding would read the whole span each time, and a long text
    without boundaries made that quadratic (seconds for a crafted 20,000-character text)."""
    starts, ends = _spans(pattern, text)
    index = bisect.bisect_left(starts, start)
    return index < len(starts) and ends[index] <= end


def _next_start(pattern: re.Pattern[str], text: str, position: int) -> int:
    """Where the first match of ``pattern`` starting at or after ``position`` starts (else the
    text's length)."""
    starts, _ = _spans(pattern, text)
    index = bisect.bisect_left(starts, position)
    return starts[index] if index < len(starts) else len(text)


# Only the last few words before a finding matter to its negation or tense; reading at most this
# many characters back keeps every finding's check short however long the clause.
_LOOK_BACK_CHARS = 400
# The past-tense phrases after a finding ("... two years ago") lie within this many characters.
_LOOK_AHEAD_CHARS = 120


def _last_end(pattern: re.Pattern[str], text: str, start: int, floor: int = 0) -> int:
    """The end of the last match of ``pattern`` ending at or before ``start`` (else ``floor``)."""
    ends = _ends(pattern, text)
    index = bisect.bisect_right(ends, start)
    return max(floor, ends[index - 1]) if index else floor


def _clause_start(text: str, start: int) -> int:
    return _last_end(CLAUSE_BOUNDARY, text, start)


def is_negated(text: str, start: int) -> bool:
    """Whether a negation cue precedes ``start`` within its clause and the last few words, or
    a clinical list negation ("denies ...") precedes it in the same statement."""
    clause_start = _last_end(STATEMENT, text, start, floor=_clause_start(text, start))
    words = text[max(clause_start, start - _LOOK_BACK_CHARS) : start].split()
    recent = " ".join(words[-NEGATION_WINDOW_WORDS:])
    if NEGATION.search(recent) is not None:
        return True
    statement_start = _last_end(LIST_BOUNDARY, text, start)
    return _matches_within(LIST_NEGATION, text, statement_start, start)


def is_past(text: str, start: int, end: int) -> bool:
    """Whether the finding at ``text[start:end]`` is said to be in the past."""
    clause_start = max(_clause_start(text, start), start - _LOOK_BACK_CHARS)
    before = " ".join(text[clause_start:start].split()[-3:])
    if PAST_BEFORE.search(before):
        return True
    after_end = min(_next_start(CLAUSE_BOUNDARY, text, end), end + _LOOK_AHEAD_CHARS)
    return PAST_AFTER.search(text[end:after_end]) is not None


# --- patterns -----------------------------------------------------------------------------------


# ``<w>`` in a pattern stands for one filler word ("<w>{0,3}": up to three words in between).
# A negation word is never a filler: "my throat is not swelling" does not match "throat <w>
# swelling" (patterns that expect a negation spell it out: "rash that doesn't fade").
_WORD = r"(?:(?!(?:not|no|never|without)\b|[\w'-]*n't\b)[\w'-]+\s+)"


def _p(*alternatives: str) -> re.Pattern[str]:
    body = "|".join(alternatives).replace("<w>", _WORD)
    return re.compile(r"\b(?:" + body + r")(?!\w)", re.IGNORECASE)


WHO = r"(?:my|his|her|their|the|our|a|your)"
BE = r"(?:is|are|was|were|has\s+been|have\s+been|feels?|felt|looks?|looked|seems?|went|got|goes|is\s+getting|became)"
SUDDEN = r"(?:sudden(?:ly)?|all\s+of\s+a\s+sudden|out\s+of\s+nowhere|came\s+on\s+(?:fast|quickly))"
SEVERE = (
    r"(?:severe|severely|extreme|extremely|excruciating|unbearable|agoni[sz]ing|terrible|"
    r"awful|intense|worst|crippling|horrendous|really\s+bad|very\s+bad|10\s*/\s*10|"
    r"ten\s+out\s+of\s+ten)"
)

# A temperature as clinicians write it ("T 39.8", "temp 38.6", "temperature is 38.2"): the
# keyword and the linking words before the number.
TEMPERATURE_WORD = r"(?:temperature|temp|(?-i:T))\s*(?:(?:is|was|of|at|reading|reads|up\s+to|down\s+to|:|=)\s*){0,3}"

# Chest pain: any pain, pressure or tightness in the chest...
CHEST_PAIN_ANY = _p(
    r"chest\s+(?:pains?|tightness|pressure|discomfort|hurts?|hurting|aches?|heaviness|squeezing)",
    r"(?:pain|tightness|pressure|discomfort|heaviness|squeezing|ache)\s+(?:in|across|on)\s+"
    + WHO
    + r"\s+chest",
    WHO + r"\s+chest\s+" + BE + r"\s+<w>?(?:tight|heavy|sore|painful|crushed|hurting)",
    r"angina",
    r"(?:pain|pressure|tightness|heaviness|discomfort)\s+<w>{0,4}(?:my|his|her|the)\s+chest",
    r"tight(?:ness\s+in\s+the)?\s+chest",
    r"(?:clutching|holding|gripping)\s+(?:my|his|her|their)\s+chest",
    r"(?:substernal|retrosternal|central|precordial)\s+(?:chest\s+)?(?:pain|pressure|tightness|discomfort|heaviness)",
)
# ...is an emergency when it has a heart-attack pattern: the nature of the pain...
CHEST_PAIN_CHARACTER = _p(
    r"crushing",
    r"(?:feels?|felt|feeling)\s+like\s+(?:an?\s+)?(?:tight\s+|heavy\s+)?(?:elephant|weight|band|vice|heavy\s+weight)",
    r"(?:tearing|ripping)",
    r"(?:at\s+rest|while\s+resting|sitting\s+still|lying\s+still|even\s+when\s+<w>{0,2}(?:resting|sitting|lying))",
    r"(?:myocardial\s+infarction|acute\s+coronary|st[-\s]elevation|stemi)",
    r"(?:heavy|tight|squeezing|pressing)\s+(?:chest|feeling|pain)",
    r"heart\s+attack",
    SEVERE + r"\s+(?:chest\s+)?(?:pain|pressure|tightness)",
    SUDDEN + r"\s+<w>{0,2}(?:chest\s+)?(?:pain|pressure|tightness)",
)
# ...or what goes with it: spreading, sweating, breathlessness, sickness, exertion, collapse.
CHEST_PAIN_COMPANION = _p(
    r"(?:spread\w*|radiat\w*|goes|going|went|moving|travel\w*|shoot\w*)\s+<w>{0,3}"
    r"(?:arms?|jaw|neck|back|shoulders?)",
    r"(?:down|into|up)\s+(?:my|his|her|the)\s+(?:left\s+|right\s+)?(?:arms?|jaw|neck|shoulders?)",
    r"(?:left\s+)?arm\s+(?:pain|ache|aches|is\s+aching|hurts|feels\s+heavy)",
    r"jaw\s+(?:pain|ache|aches|hurts)",
    r"sweat(?:y|ing|s|ed)?",
    r"clammy",
    r"short(?:ness)?\s+of\s+breath",
    r"breathless(?:ness)?",
    r"(?:can't|cannot|can\s+not|couldn't)\s+(?:catch\s+(?:my|his|her)\s+breath|breathe)",
    r"(?:difficulty|trouble|struggling|hard)\s+(?:to\s+)?breath(?:e|ing)",
    r"(?:nausea|nauseous|feel\s+sick|felt\s+sick|vomit\w*|throwing\s+up|threw\s+up)",
    r"(?:on|with|during|after|when|while)\s+<w>{0,2}(?:exertion|exercise|exercising|climbing|walking|walk|effort|running)",
    r"(?:uphill|up\s+(?:the\s+)?(?:stairs|hill))",
    r"(?:through|straight\s+through)\s+to\s+(?:my|his|her|the)\s+back",
    r"diaphore\w*",
    r"dyspn(?:o)?ea",
    r"(?:dizzy|light[-\s]?headed|faint)",
    r"(?:grey|gray|pale)\s+(?:and|skin|face)",
    r"(?:gone|went|turned|looks?|is)\s+(?:very\s+)?(?:grey|gray|pale)",
)

STROKE = _p(
    r"(?:face|facial|mouth|smile|lip)\s+<w>?(?:droop\w*|drops?|dropped|dropping|lopsided|"
    r"uneven|fell|fallen)",
    r"droop(?:ing|y|ed)\s+(?:on\s+one\s+side|face|mouth|smile|side\s+of)",
    r"one\s+side\s+of\s+" + WHO + r"\s+(?:face|body|mouth)\s+<w>{0,2}"
    r"(?:droop\w*|numb|weak|dropp\w*|paraly[sz]ed|not\s+moving)",
    r"slurr(?:ed|ing|s)\s*(?:speech|words|(?:his|her|my)\s+words)?",
    r"(?:speech|words|talking)\s+<w>?(?:slurred|garbled|jumbled|confused|muddled)",
    r"(?:can't|cannot|couldn't|unable\s+to|trouble|difficulty)\s+<w>{0,2}"
    r"(?:speak(?:ing)?|talk(?:ing)?|get\s+(?:my|his|her|the)\s+words\s+out|find\s+(?:the|my|his|her)\s+words)",
    r"(?:can't|cannot|couldn't|unable\s+to)\s+understand\s+what\s+(?:people|anyone|you|they|others|we)\s+"
    r"(?:were|are|was|is)\s+saying",
    r"words\s+(?:came|come|coming|were\s+coming)\s+out\s+(?:wrong|jumbled|muddled|garbled)",
    r"(?:left|right)[-\s]sided\s+(?:weakness|numbness|paralysis|hemipar\w*)",
    r"facial\s+(?:droop\w*|weakness|palsy)",
    r"hemipar\w+|hemipleg\w+|aphasi\w+|dysphasi\w+",
    r"(?:weakness|numbness|paralysis|tingling)\s+(?:on|in|of|down)\s+(?:one\s+side|the\s+(?:left|right)"
    r"(?:\s+side)?|(?:my|his|her)\s+(?:left|right)\s+(?:side|arm|leg))",
    r"one[-\s]sided\s+(?:weakness|numbness|paralysis)",
    r"(?:left|right)\s+(?:arm|leg|hand|side)\s+<w>{0,2}(?:weak|numb|paraly[sz]ed|heavy|"
    r"dead|useless|won't\s+move|not\s+working)",
    r"(?:can't|cannot|couldn't|unable\s+to)\s+(?:move|lift|raise|feel)\s+(?:my|his|her)\s+"
    r"(?:left|right)?\s*(?:arm|leg|hand|side)",
    r"(?:arm|leg)\s+(?:suddenly\s+)?(?:went|gone|going)\s+(?:weak|numb|dead|limp)",
    r"stroke",
)

THUNDERCLAP = _p(
    r"worst\s+headache\s+(?:of|in|ever)",
    r"worst\s+<w>{0,2}headache",
    r"thunderclap",
    r"explosive\s+headache",
    r"headache\s+<w>{0,4}(?:came\s+on|started|began)\s+(?:instantly|in\s+seconds|within\s+(?:a\s+)?(?:minute|seconds))",
    r"(?:peak\w*|maximum)\s+<w>{0,3}within\s+(?:a|one|1|60)\s+(?:minute|seconds)",
    r"headache\s+<w>{0,3}like\s+(?:being\s+)?(?:hit|struck|kicked|an?\s+explosion|a\s+bomb)",
    SUDDEN + r"\s+<w>{0,3}(?:severe|excruciating|intense|explosive|blinding|awful|"
    r"terrible|bad)\s+headache",
    r"(?:severe|excruciating|explosive|blinding|intense)\s+headache\s+<w>{0,4}(?:came\s+on\s+)?"
    + SUDDEN,
    r"headache\s+(?:that\s+)?(?:came\s+on|started|began)\s+(?:in\s+)?(?:seconds|an\s+instant|"
    r"instantly|all\s+at\s+once|like\s+a\s+thunderclap)",
)

MENINGITIS_RASH = _p(
    r"rash\s+<w>{0,4}(?:doesn't|does\s+not|don't|do\s+not|won't|will\s+not|didn't|did\s+not)\s+(?:fade|go\s+away\s+when\s+(?:pressed|pressing))",
    r"(?:doesn't|does\s+not|don't|do\s+not|won't|didn't)\s+fade\s+<w>{0,4}(?:glass|pressed|pressing|press)",
    r"non[-\s]?blanch\w*",
    r"(?:purple|dark\s+red|red|purplish)\s+<w>?(?:spots|rash|blotches|pinpricks?|bruises)\s+"
    r"<w>{0,4}(?:fade|glass|pressed)",
    r"(?:petechia\w*|purpura\w*)",
    r"(?:spots|rash|marks|blotches)\s+<w>{0,6}(?:stay|stays|still\s+(?:there|visible|shows?)|"
    r"(?:don't|doesn't|do\s+not|does\s+not)\s+(?:go|disappear))\s+<w>{0,4}(?:glass|press\w*)",
    r"bulging\s+(?:soft\s+spot|fontanel\w*)",
)
STIFF_NECK = _p(
    r"stiff\s+neck",
    r"neck\s+<w>{0,2}(?:stiff|rigid)",
    r"stiffness\s+(?:in|of)\s+(?:my\s+|his\s+|her\s+|the\s+)?neck",
    r"(?:can't|cannot|couldn't|unable\s+to)\s+(?:bend|move|touch)\s+(?:my|his|her)\s+(?:neck|chin)",
    r"nuchal\s+rigidity",
    r"neck\s+stiffness",
    r"meningism\w*",
)
# A fever in the words and readings that adults and babies share; ``FEVER`` and
# ``INFANT_FEVER`` add their own.
_FEVER_WORDS_AND_READINGS = (
    r"fevers?",
    r"feverish",
    r"high\s+temperature",
    TEMPERATURE_WORD + r"(?:3[89]|4[0-2])(?:[.,]\d)?",
    r"(?:3[89]|4[01])(?:[.,]\d)?\s*(?:°\s*)?c\b",
    r"(?:10[0-6])(?:[.,]\d)?\s*(?:°\s*)?f\b",
)
FEVER = _p(
    *_FEVER_WORDS_AND_READINGS,
    r"t\s*=\s*(?:10[0-6]|3[89]|4[01])",
    r"febrile",
    r"burning\s+up",
    r"(?:feels?|felt|is|was)\s+(?:very\s+|really\s+|so\s+)?hot(?=\s*[,.;]|\s+and\b)",
    r"pyrexi\w*",
)
LIGHT_HEADACHE = _p(
    r"(?:light|bright\s+lights?)\s+<w>{0,2}(?:hurts?|hurting|painful|bothers?)",
    r"(?:can't|cannot)\s+(?:stand|bear|look\s+at)\s+(?:the\s+)?(?:bright\s+)?light",
    r"photophobia",
    r"(?:dislikes?|hates?|avoid\w*)\s+<w>?(?:bright\s+)?lights?",
)

ANAPHYLAXIS = _p(
    r"throat\s+<w>{0,3}(?:swelling|swollen|closing|tight\w*|swelled)",
    r"swelling\s+(?:of|in)\s+(?:my\s+|his\s+|her\s+|the\s+)?(?:throat|tongue)",
    r"(?:swollen|swelling)\s+(?:throat|tongue)",
    r"tongue\s+<w>{0,2}(?:swelling|swollen|swelled|huge|thick)",
    r"anaphyla\w*",
    r"(?:used|gave|give|needed|had\s+to\s+use)\s+(?:my|his|her|an|the)\s+(?:epi[-\s]?pen|adrenaline)",
)
ALLERGIC_SWELLING = _p(
    r"(?:lips?|face|eyes?|eyelids?|mouth)\s+<w>{0,2}(?:swelling|swollen|swelled|puffed\s+up|"
    r"blew\s+up|ballooned)",
    r"swelling\s+(?:of|in|around)\s+(?:my\s+|his\s+|her\s+|the\s+)?(?:lips?|face|mouth|eyes)",
    r"(?:swollen|swelling)\s+(?:lips?|face)",
    r"(?:facial|lip|tongue)\s+(?:swelling|oedema|edema|angioedema)|angioedema",
    r"(?:hives|allergic\s+reaction|urticaria)",
)
_BREATHLESS_WORDS = (
    r"short(?:ness)?\s+of\s+breath",
    r"breathless(?:ness)?",
    r"(?:difficulty|trouble|problems?|struggling|hard\s+time)\s+(?:in\s+|with\s+)?breathing",
    r"(?:difficult|hard)\s+to\s+breathe",
    r"breathing\s+(?:is\s+)?(?:difficult|hard|laboured|labored|noisy)",
    r"(?:can't|cannot|can\s+not|couldn't)\s+(?:catch\s+(?:my|his|her)\s+breath|breathe)",
    r"wheez\w*",
    r"gasping",
    r"dyspno?ea",
    r"stridor",
)
BREATHLESS = _p(*_BREATHLESS_WORDS)
# Anaphylaxis also shows as faintness or collapse after the trigger (NHS anaphylaxis).
ANAPHYLAXIS_COMPANION = _p(
    *_BREATHLESS_WORDS,
    r"(?:feels?|felt|feeling)\s+(?:very\s+)?(?:faint|dizzy|light[-\s]?headed)",
    r"fainted|collapsed|passed\s+out",
)

OVERDOSE = _p(
    r"overdos\w*",
    r"(?-i:OD'?d|OD'ed)",
    r"(?:took|taken|take|swallowed|have\s+taken|has\s+taken|had)\s+<w>{0,3}"
    r"(?:too\s+many|too\s+much|a\s+lot\s+of|lots\s+of|loads\s+of|a\s+load\s+of|a\s+whole|the\s+whole|"
    r"(?:(?:my|his|her|a|the)\s+)?(?:whole\s+)?(?:week|month|fortnight)'?s?\s+(?:worth|supply)\s+of|"
    r"all\s+(?:of\s+)?(?:my|his|her|the)|a\s+handful\s+of|a\s+bottle\s+of|a\s+packet\s+of|"
    r"(?:\d{2,}|twenty|thirty|forty|fifty)\s+<w>?(?:of\s+)?(?:my\s+|his\s+|her\s+)?)"
    r"\s*<w>{0,2}(?:pills?|tablets?|capsules?|paracetamol|acetaminophen|tylenol|"
    r"ibuprofen|aspirin|medication|medicine|meds|sleeping\s+(?:pills|tablets)|insulin|packets?|bottles?|"
    r"antidepressants?|painkillers?)",
    r"(?:took|taken|swallowed|drank)\s+<w>{0,5}(?:on\s+purpose|deliberately|intentionally)",
    r"(?:extra|additional|double|more|too\s+much|too\s+many|several|multiple)\s+<w>{0,3}"
    r"(?:paracetamol|acetaminophen|tylenol)",
    r"(?:paracetamol|acetaminophen|tylenol)[-\s](?:containing|products|preparations)",
    r"(?:drank|drunk|swallowed|ate|eaten|drinking)\s+(?:some\s+)?<w>{0,6}(?:bleach|poison\w*|"
    r"antifreeze|weed\s*killer|pesticide|rat\s+poison|white\s+spirit|petrol|methanol|rinse\s+aid|"
    r"washing\s+up\s+liquid|cleaning\s+(?:fluid|product))",
    r"poison(?:ed|ing)",
    r"(?:mushrooms?\s+<w>{0,4}poisonous|poisonous\s+<w>{0,2}(?:mushrooms?|berries|plant))",
    r"carbon\s+monoxide",
    r"(?:boiler|gas|co)\s+(?:alarm|detector)\s+<w>{0,2}(?:went\s+off|going\s+off|sounded|beep\w*)",
)

SUICIDAL = _p(
    r"suicid\w*",
    r"kill(?:ing)?\s+(?:my|him|her|them)sel(?:f|ves)",
    r"end(?:ing)?\s+(?:my|his|her|it)\s+(?:own\s+)?(?:life|all)",
    r"end\s+it\s+(?:all|tonight|today|now)",
    r"(?:take|taking)\s+(?:my|his|her)\s+(?:own\s+)?life",
    r"(?:can't|cannot)\s+go\s+on\s+(?:any\s*more|like\s+this)",
    r"(?:pills|tablets|rope|knife|gun)\s+(?:are\s+)?(?:ready|saved\s+up|stockpiled|lined\s+up)",
    r"(?:saved|saving|stockpil\w*|hoard\w*)\s+<w>{0,2}(?:pills|tablets)",
    r"want(?:s|ed)?\s+to\s+die",
    r"wish\s+(?:i|he|she)\s+(?:was|were)\s+dead",
    r"better\s+off\s+(?:dead|without\s+me)",
    r"(?:don't|do\s+not)\s+want\s+to\s+(?:be\s+here|live|be\s+alive|wake\s+up)\s*(?:any\s*more)?",
    r"no\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|going\s+on)",
    r"(?:plan|plans|planning|planned)\s+<w>{0,3}(?:to\s+)?(?:die|end\s+(?:it|my\s+life)|"
    r"jump|hang\s+myself)",
    r"(?:hang|hanging)\s+myself",
    r"jump\s+(?:off|in\s+front\s+of)\s+(?:a|the)\s+(?:bridge|train|building|roof)",
    r"(?:written|wrote|writing|left)\s+(?:a\s+)?(?:suicide\s+)?(?:note|goodbye\s+letters?)\s+"
    r"(?:to|for)\s+(?:my|his|her)",
    r"saying\s+goodbye\s+to\s+(?:everyone|my\s+family)",
)
SELF_HARM = _p(
    r"self[-\s]?harm\w*",
    r"(?:cut|cutting|cuts|burn|burning|burned|burnt|hurt|hurting|harm|harming|scratch\w*|"
    r"hit|hitting|punch\w*)\s+(?:my|him|her|them)sel(?:f|ves)",
    r"(?:cut\w*|burn\w*|hurt\w*|harm\w*|scratch\w*)\s+<w>{0,5}(?:on\s+purpose|deliberately|intentionally)",
    r"(?:on\s+purpose|deliberately|intentionally)\s+(?:cut\w*|burn\w*|hurt\w*|harm\w*)",
    r"(?:been|keep|keeps|started|start)\s+(?:cutting|burning|scratching)\s+(?:my|his|her|their)\s+"
    r"(?:arms?|wrists?|legs?|thighs?|skin|stomach)",
    r"cutting\s+(?:my|his|her|their)\s+(?:arms?|wrists?|legs?|thighs?)\s+again",
)

# The NHS mental health crisis advice: call 999 when someone may seriously hurt another person:
# a stated intent or plan, voices commanding harm, homicidal ideation. Intrusive thoughts that
# the person fears and would not act on (common after a birth) are a GP's, and so is anger
# ("I could kill him").
_OTHERS = (
    r"(?:someone|somebody|anyone|people|others|him|her|them|(?:my|his|her|their|our|the)\s+(?:\w+[-\s])?"
    r"(?:wife|husband|partner|ex|baby|child|children|kids?|son|daughter|mum|dad|mother|father|"
    r"brother|sister|boss|neighbours?|flatmate|landlord|colleague|family))"
)
HARM_TO_OTHERS = _p(
    r"(?:going|gonna|planning|plans|planned|about|intend\w*|determined)\s+to\s+(?:kill|hurt|harm|attack|stab|"
    r"strangle|shoot|murder)\s+" + _OTHERS,
    r"(?:voices?|(?:command\s+)?hallucinations?)\s+<w>{0,3}(?:telling|tell|tells|told|ordering|order|orders|commanding|command\w*|saying)\s+"
    r"(?:me|him|her|them)\s+to\s+(?:kill|hurt|harm|attack|stab|murder)(?!\s+(?:my|him|her|them)sel(?:f|ves))",
    r"homicidal\s+(?:ideation|thoughts|intent|plans?|urges)",
    r"(?:thoughts|urges?)\s+(?:of|about)\s+(?:killing|murdering)\s+" + _OTHERS,
)

SEVERE_BLEEDING = _p(
    r"(?:severe|heavy|heavily|profuse|profusely|massive|uncontrolled|uncontrollable|lots\s+of|"
    r"a\s+lot\s+of|serious|pouring|gushing|spurting)\s+<w>?(?:bleeding|blood|bleed)",
    r"bleeding\s+<w>?(?:heavily|a\s+lot|profusely|everywhere|badly)",
    r"(?:bleeding|blood|it|nose\s*bleeds?)\s+(?:that\s+|which\s+)?(?:won't|will\s+not|doesn't|does\s+not|can't|"
    r"cannot|hasn't|has\s+not|isn't|is\s+not)\s+(?:stop|stopped|stopping)",
    r"(?:won't|will\s+not|can't|cannot|couldn't)\s+stop\s+(?:the\s+)?(?:bleeding|it\s+bleeding)",
    r"blood\s+(?:is\s+)?(?:spurting|pumping|pouring|gushing)",
    r"vomit(?:ing|ed|s)?\s+(?:up\s+)?<w>?(?:blood|bloody)",
    r"(?:throw(?:ing|n)?|threw)\s+up\s+<w>?blood",
    r"blood\s+in\s+(?:my\s+|his\s+|her\s+|the\s+)?(?:vomit|sick)",
    r"coffee[-\s]grounds?",
    r"cough(?:ing|ed|s)?\s+up\s+<w>{0,2}blood",
    r"(?:black|tarry|tar[-\s]like|jet[-\s]black)\s+<w>?(?:stools?|poo|poop|faeces|feces|"
    r"bowel\s+movements?)",
    r"(?:stools?|poo|poop|faeces|feces)\s+<w>{0,2}(?:black|tarry|like\s+tar)",
    r"melaena|melena",
    r"(?:soak\w*|fill\w*)\s+(?:through\s+)?(?:a\s+)?(?:pad|pads|tampon)s?\s+<w>{0,3}"
    r"(?:hour|hourly)",
    r"(?:lots\s+of|a\s+lot\s+of)\s+blood\s+(?:from|in|when)",
    r"passing\s+(?:large\s+)?(?:blood\s+)?clots",
    # NHS nosebleeds: go to A&E when one lasts longer than 10 to 15 minutes
    r"(?:nose\s*bleed|epistaxis|nose\s+(?:has\s+been\s+|is\s+|keeps\s+)?bleeding)\s+<w>{0,4}"
    r"(?:for\s+)?(?:over\s+|more\s+than\s+|nearly\s+|about\s+|almost\s+|at\s+least\s+)?"
    r"(?:(?:1[5-9]|[2-9]\d|fifteen|twenty|thirty|forty)\s*(?:minutes|mins)|half\s+an\s+hour|"
    r"(?:an?|one|two|three|\d)\s+hours?|hours)",
)
PREGNANT = _p(
    r"pregnan\w*",
    r"(?:\d+|six|seven|eight|nine|ten|twelve)\s+weeks?\s+(?:pregnant|gone)",
    r"expecting\s+(?:a\s+)?baby",
    r"positive\s+pregnancy\s+test",
    r"(?:missed|late)\s+(?:my\s+|her\s+)?period",
    r"period\s+(?:is\s+)?<w>{0,3}(?:late|overdue)",
)
VAGINAL_BLEEDING = _p(
    r"(?:vaginal\s+)?bleed\w*",
    r"spotting",
    r"blood\s+(?:from\s+)?(?:down\s+there|my\s+vagina)",
)

SEPSIS = _p(
    r"mottled",
    r"(?:skin|lips|tongue)\s+<w>{0,2}(?:blue|grey|gray|blotchy|ashen)",
    r"(?:blue|grey|gray|blotchy|ashen)\s+(?:skin|lips)",
    r"(?:haven't|hasn't|not|no)\s+<w>{0,2}(?:peed|passed\s+(?:any\s+)?urine|urinated|"
    r"had\s+a\s+wee|weed)\s+<w>{0,3}(?:all\s+day|in\s+(?:a|24|twelve|12|18)|since|today)",
    r"no\s+urine\s+<w>{0,3}(?:day|hours)",
    # NHS sepsis in children: "not had a wee or wet nappy for 12 hours"
    r"(?:haven't|hasn't|has\s+not|have\s+not|not|no)\s+(?:had\s+)?(?:a\s+|any\s+)?wet\s+napp(?:y|ies)\s+"
    r"<w>{0,3}(?:all\s+day|in\s+(?:a|24|twelve|12|18)|for|since|today)",
    r"(?:dry|no\s+wet)\s+napp(?:y|ies)\s+(?:all\s+day|for\s+(?:12|twelve|over|more)|since\s+(?:last\s+night|this\s+morning))",
    r"(?:feels?|felt|feeling)\s+like\s+(?:i'm|i\s+am|(?:s)?he\s+is|(?:s)?he's|i\s+was|i'm)\s+"
    r"(?:going\s+to|gonna)\s+die",
    r"sepsis|septic",
    r"(?:uncontrollabl[ey]|violent(?:ly)?|extreme|severe)\s+(?:shivering|shaking|rigors)",
    r"rigors",
    r"(?:weak|high[-\s]pitched)\s+(?:(?:and|,)\s*)?(?:high[-\s]pitched\s+)?(?:cry|crying|whimper\w*)",
)
# NHS cellulitis: A&E when the infection comes with a high temperature or shivering.
SKIN_INFECTION = _p(
    r"cellulitis",
    r"(?:redness|red\s+area|red\s+patch|red\s+streaks?)\s+<w>{0,3}(?:spreading|spread\w*|getting\s+bigger|tracking)",
    r"spreading\s+(?:red(?:ness)?|infection)",
)
SEPSIS_FEVER_SIGN = _p(
    r"(?:very\s+)?confused",
    r"confusion",
    r"(?:very\s+)?(?:fast|rapid|racing)\s+(?:heart\s*(?:beat|rate)?|pulse|breathing)",
    r"(?:breathing|heart)\s+<w>?(?:very\s+)?fast",
    r"(?:very\s+)?(?:drowsy|floppy|lethargic|hard\s+to\s+wake|unresponsive)",
    r"(?:looks?|seems?|feels?)\s+<w>?(?:really|very|extremely|seriously)\s+(?:ill|unwell|sick)",
    r"appears?\s+<w>?ill",
    r"low\s+blood\s+pressure",
    r"hypotensi\w+|tachycardi\w*|tachypn\w*",
)

SEVERE_BREATHING = _p(
    r"(?:can't|cannot|can\s+not|couldn't|unable\s+to)\s+breathe",
    r"(?:can't|cannot|couldn't|unable\s+to)\s+<w>?(?:speak|talk|say)\s+<w>{0,2}"
    r"(?:full\s+)?sentences?",
    r"(?:too\s+)?(?:breathless|out\s+of\s+breath)\s+to\s+(?:speak|talk|walk|eat)",
    r"gasping\s+(?:for\s+)?(?:air|breath)?",
    r"(?:lips|face|fingers|fingertips)\s+(?:(?:are|is|turning|turned|going|gone|went|look|looks|have|has|"
    r"getting|becoming)\s+){0,2}(?:blue|grey|gray|purple)",
    r"(?:can't|cannot|couldn't|unable\s+to)\s+(?:finish|complete)\s+<w>{0,2}sentences?",
    r"respiratory\s+(?:distress|failure|arrest)",
    r"cyano(?:sis|tic)",
    r"suffocat\w*",
    r"(?:can't|cannot|couldn't)\s+get\s+(?:enough\s+)?(?:air|breath)",
    r"(?:struggling|fighting)\s+(?:to\s+breathe|for\s+(?:breath|air))",
    r"(?:severe|severely|extreme|very\s+bad|really\s+bad|sudden)\s+(?:shortness\s+of\s+breath|"
    r"breathlessness|difficulty\s+breathing|breathing\s+difficult\w*)",
    r"(?:short\s+of\s+breath|breathless)\s+<w>{0,2}(?:at\s+rest|sitting\s+still|lying\s+down|"
    r"even\s+when\s+(?:resting|sitting))",
    r"(?:inhaler|puffer|nebuli[sz]er|bronchodilator|salbutamol|albuterol|ventolin)s?\s+"
    r"<w>{0,6}(?:isn't|is\s+not|aren't|are\s+not|wasn't|was\s+not|not|no\s+longer|doesn't|"
    r"does\s+not|didn't|did\s+not|hasn't|has\s+not|has\s+stopped|stopped)\s+<w>{0,1}"
    r"(?:help\w*|work\w*|relie\w*|mak\w*\s+(?:a|any)\s+difference|touch\w*)",
    r"(?:no|not|little|without|didn't\s+get|did\s+not\s+get|did\s+not\s+receive|didn't\s+receive|"
    r"isn't\s+giving|not\s+getting)\s+<w>{0,2}(?:relief|help|difference)\s+<w>{0,2}"
    r"(?:from|with)\s+(?:my\s+|his\s+|her\s+|the\s+)?<w>?(?:inhaler|puffer|nebuli[sz]er|"
    r"bronchodilator|salbutamol|albuterol|ventolin)",
    r"(?:increas\w*|more|extra|constant)\s+<w>{0,2}(?:use|using|need)\s+<w>{0,2}"
    r"(?:of\s+)?(?:my\s+|his\s+|her\s+|the\s+)?(?:rescue|reliever)\s+(?:inhaler|bronchodilator|puffer)?",
    r"(?:using|used|needing|needed)\s+(?:my|his|her)\s+(?:rescue\s+|reliever\s+|blue\s+)?"
    r"(?:inhaler|puffer)\s+<w>{0,2}(?:every|more\s+than|constantly|non[-\s]?stop)",
    r"stridor",
    r"(?:high[-\s]pitched|harsh|crowing|rasping|squeaky)\s+<w>?(?:noise|sound)\s+<w>{0,4}(?:breath\w*|breathes\s+in)",
    r"(?:high[-\s]pitched|harsh|noisy|crowing|whistling)\s+<w>?(?:breathing|noise\s+when\s+"
    r"(?:breathing|(?:s)?he\s+breathes)|sound\s+when\s+breathing)",
    r"(?:ribs|chest|skin\s+between\s+(?:the|his|her)\s+ribs|tummy)\s+(?:is\s+|are\s+)?"
    r"(?:sucking|pulling|sinking)\s+in",
    r"grunting",
    r"(?:stops?|stopped|stopping|pauses?\s+in)\s+breathing",
)
# NHS DVT: call 999 when a swollen, painful leg comes with breathlessness or chest pain (a clot
# that may have reached the lungs).
LEG_CLOT = _p(
    r"(?:calf|leg|thigh)\s+<w>{0,3}(?:swollen|swelling|swelled)",
    r"(?:swollen|swelling)(?:,?\s+[\w'-]+){0,3}?,?\s+(?:calf|leg|thigh)",
    r"swelling\s+(?:of|in)\s+(?:my\s+|his\s+|her\s+|the\s+|one\s+)?(?:calf|leg|thigh)",
    r"dvt|deep\s+vein\s+thrombosis|(?:blood\s+)?clot\s+in\s+(?:my|his|her|the)\s+(?:leg|calf|thigh)",
)
CLOT_IN_LUNG = _p(
    *_BREATHLESS_WORDS,
    r"chest\s+pain",
    r"pain\s+<w>{0,3}when\s+(?:i\s+|(?:s)?he\s+)?(?:breathe|breathes|breathing)",
    r"cough\w*\s+up\s+<w>{0,2}blood",
)
# NHS sore throat: call 999 when a sore throat comes with being unable to swallow.
CANNOT_SWALLOW = _p(
    r"(?:can't|cannot|couldn't|unable\s+to|not\s+able\s+to)\s+(?:even\s+)?swallow\s+"
    r"(?:(?:my|his|her|their)\s+(?:own\s+)?)?(?:saliva|spit|anything|water|liquids?|fluids?|drinks?)",
)
THROAT = _p(
    r"throat",
    r"tonsil\w*",
    r"quinsy",
    r"muffled",
    r"hot\s+potato\s+voice",
    r"(?:neck|jaw)\s+<w>{0,2}(?:swollen|swelling)",
    r"swollen\s+(?:neck|jaw)",
)
# NHS dental abscess and sore throat pages: A&E when swelling of the jaw or neck makes it hard
# to breathe.
NECK_SWELLING = _p(
    r"(?:jaw|neck|under\s+(?:my|his|her)\s+tongue)\s+<w>{0,4}(?:swollen|swelling|swell|swelled)",
    r"(?:swollen|swelling\s+(?:of|in))\s+(?:my\s+|his\s+|her\s+|the\s+)?(?:jaw|neck)",
)
DROOLING = _p(r"drool\w*", r"dribbling\s+<w>?(?:saliva|spit)")
CHOKING = _p(
    r"chok(?:ing|ed|es)", r"something\s+stuck\s+in\s+(?:his|her|my|the)\s+(?:throat|windpipe)"
)
DROOLING_COMPANION = _p(
    r"(?:can't|cannot|won't|unable\s+to|trouble|difficulty)\s+<w>?swallow\w*",
    r"(?:difficulty|trouble|struggling|hard|noisy|laboured)\s+(?:to\s+)?breath\w*",
    r"(?:fever|high\s+temperature)",
    r"leaning\s+forward",
    r"sore\s+throat",
)
CHOKING_COMPANION = _p(
    r"(?:can't|cannot|couldn't|unable\s+to|not)\s+<w>?(?:breathe|cough|speak|cry|talk)",
    r"(?:blue|grey|gray|purple)",
    r"stuck\s+in\s+(?:his|her|my|the)\s+throat",
)

ALTERED_CONSCIOUSNESS = _p(
    r"(?:lost|lose|losing|loss\s+of)\s+consciousness",
    r"(?:passed|passes|passing|pass)\s+out",
    r"fainted|fainting\s+(?:spells?|episodes?)|(?:has|had)\s+(?:a\s+)?faint",
    r"(?:blacked|blacking|black)\s+out",
    r"(?:unconscious|unresponsive|unrousable|unarousable)",
    r"collaps\w*",
    r"(?:won't|will\s+not|can't|cannot|couldn't|hard\s+to|difficult\s+to|not)\s+<w>?"
    r"(?:wake|waking|rouse)\s*(?:him|her|them|up)?",
    r"(?:very|extremely|really|unusually|abnormally|increasingly)\s+(?:drowsy|sleepy|floppy)",
    r"(?:suddenly|acutely|very|increasingly)\s+(?:(?:become|became|got|gone|gotten|went|is|seems?)\s+)?(?:very\s+)?(?:confused|disoriented|disorientated)",
    r"(?:isn't|is\s+not|wasn't|was\s+not|not)\s+making\s+(?:any\s+)?sense",
    r"syncop\w+",
    r"gcs\s*(?:of\s*|is\s*|:\s*)?(?:[3-9]|1[0-3])\b",
    r"(?:disoriented|disorientated)",
    r"(?:altered|change\s+in)\s+(?:mental\s+status|consciousness|level\s+of\s+consciousness)",
    r"(?:somnolent|obtunded|stupor\w*)",
    r"(?:doesn't|does\s+not|didn't|did\s+not)\s+(?:know|recogni[sz]e)\s+(?:where\s+(?:s)?he\s+is|"
    r"where\s+i\s+am|(?:his|her|their)\s+(?:own\s+)?(?:family|name|wife|husband|children|mother|father))",
    r"(?:not\s+making\s+sense|talking\s+nonsense)",
)

SEIZURE = _p(
    r"seizures?",
    r"seizing",
    r"convuls\w*",
    r"(?:had|having|has|have)\s+(?:a|another|his|her|my)\s+<w>?fits?",
    r"fitting",
    r"epileptic\s+(?:fit|attack|seizure)",
    r"(?:shaking|jerking|twitching)\s+(?:all\s+over|uncontrollably|violently)\s+<w>{0,6}"
    r"(?:unresponsive|wouldn't\s+respond|didn't\s+respond|eyes\s+rolled|couldn't\s+hear)",
    r"(?:arms\s+and\s+legs|whole\s+body)\s+(?:were\s+|was\s+|started\s+)?(?:shaking|jerking|stiff)",
    r"eyes\s+rolled\s+(?:back|up)",
    r"(?:body|arms?|legs?)\s+<w>{0,2}(?:went|goes|going|became)\s+stiff\s+and\s+<w>?(?:jerk|shak|twitch)\w*",
    r"tonic[-\s]clonic",
)

HEAD_INJURY = _p(
    r"head\s+injur\w*",
    r"(?:hit|hitting|banged|bumped|knocked|struck|smashed)\s+<w>{0,2}(?:my|his|her|their)\s+head",
    r"(?:fell|fall|fallen|falling)\s+<w>{0,5}(?:on|onto|hit)\s+(?:my|his|her|the\s+back\s+of\s+(?:my|his|her))?\s*head",
    r"(?:blow|knock|bang|bump)\s+(?:to|on)\s+(?:the|my|his|her)\s+head",
    r"concussion",
)
HEAD_INJURY_WARNING = _p(
    r"vomit\w*|throw(?:ing|n)?\s+up|threw\s+up|(?:being|been|was|is)\s+sick",
    r"(?:drowsy|sleepy|confused|dazed|groggy|disoriented|not\s+making\s+sense)",
    r"(?:lost|loss\s+of)\s+consciousness|knocked\s+out|blacked\s+out|passed\s+out",
    r"(?:can't|cannot|couldn't|doesn't|does\s+not)\s+remember",
    r"memory\s+loss",
    r"(?:blood|clear\s+fluid|fluid)\s+<w>?(?:from|out\s+of|coming\s+out\s+of)\s+<w>?"
    r"(?:ears?|nose)",
    r"(?:blood\s+thinners?|warfarin|apixaban|rivaroxaban|anticoagula\w*)",
    r"(?:worsening|worse|getting\s+worse|severe)\s+headache",
    r"seizure|fit|fitting",
    r"(?:blurred|double)\s+vision",
    r"(?:unequal|different[-\s]sized)\s+pupils",
)

DIABETES = _p(
    r"diabet\w*",
    r"type\s+(?:1|one|2|two)",
    r"insulin",
    r"(?:blood\s+)?(?:sugars?|glucose)\s+(?:levels?\s+)?(?:is\s+|are\s+|was\s+|were\s+|of\s+)?"
    r"(?:very\s+|really\s+|dangerously\s+)?(?:high|low|\d{2,})",
)
DIABETIC_EMERGENCY = _p(
    r"(?:ketones?|ketoacidosis|dka)",
    r"(?:fruity|pear[-\s]drop|nail[-\s]polish|acetone)\s+(?:smelling\s+)?breath",
    r"breath\s+<w>{0,2}smells?\s+<w>?(?:fruity|sweet|of\s+pear\s+drops|like\s+nail\s+polish)",
    r"(?:blood\s+)?(?:sugars?|glucose)\s+(?:levels?\s+)?(?:is\s+|are\s+|was\s+|were\s+|keeps?\s+"
    r"(?:going|dropping)\s+)?(?:very\s+|really\s+|dangerously\s+|too\s+)?(?:low|high)\s+"
    r"<w>{0,4}(?:confused|drowsy|shaking|sweating|not\s+responding|vomiting|won't\s+come\s+"
    r"(?:up|down)|not\s+coming\s+(?:up|down))",
    r"(?:hypo|hypoglyc\w*)\s+<w>{0,4}(?:confused|drowsy|unconscious|not\s+responding|"
    r"can't\s+swallow|won't\s+(?:eat|drink|wake))",
    r"(?:blood\s+)?(?:sugars?|glucose)\s+<w>{0,3}(?:reads?\s+)?(?:hi|high|over\s+\d{2})\b",
    r"(?:deep|fast|heavy)\s+(?:sighing\s+)?breathing",
    r"kussmaul",
    r"(?:sugars?|glucose|bm|reading)\s+<w>{0,2}(?:is\s+|was\s+|of\s+|at\s+|reads\s+)?(?:[0-2](?:[.,]\d)?|3[.,][0-4])\b(?!\s*(?:weeks?|days?|hours?|times))",
    r"(?:sugars?|glucose|bm|reading)\s+<w>{0,2}(?:is\s+|was\s+|of\s+|at\s+|reads\s+)?(?:[1-5]\d)\s*mg",
    r"(?:very|extremely|really)\s+thirsty\s+<w>{0,5}(?:vomit\w*|drowsy|confused|peeing)",
)

CAUDA_EQUINA = _p(
    r"(?:numb\w*|tingling|no\s+feeling|loss\s+of\s+(?:feeling|sensation))\s+<w>{0,3}"
    r"(?:groin|genitals?|bottom|buttocks?|inner\s+thighs?|saddle|between\s+(?:my|his|her|the)\s+legs|"
    r"back\s+passage|private\s+parts|around\s+(?:my|his|her|the)\s+(?:anus|bottom))",
    r"(?:groin|genitals?|bottom|buttocks?|inner\s+thighs?|saddle\s+area)\s+<w>{0,2}"
    r"(?:numb|tingly|tingling|dead)",
    r"saddle\s+(?:numbness|anaesthesia|anesthesia)",
    r"(?:can't|cannot|couldn't)\s+feel\s+<w>{0,2}(?:toilet\s+(?:paper|roll)|when\s+(?:i|he|she)\s+wipe)",
    r"urinary\s+retention|retention\s+of\s+urine",
    r"(?:can't|cannot|couldn't|unable\s+to|trouble|difficulty|struggling\s+to)\s+<w>?"
    r"(?:pee|urinate|wee|pass\s+urine|empty\s+(?:my|his|her)\s+bladder|control\s+(?:my|his|her)\s+"
    r"(?:bladder|bowels?))",
    r"(?:lost|losing|loss\s+of|no)\s+<w>?(?:control\s+of\s+)?(?:my\s+|his\s+|her\s+)?"
    r"(?:bladder|bowels?)\s*(?:control)?",
    r"(?:wet|wetting|soiled|soiling)\s+(?:my|him|her)sel(?:f|ves)",
    r"(?:incontinen\w*)",
    # weakness or numbness of both legs
    r"(?:weak\w*|numb\w*)\s+(?:in|of)\s+both\s+(?:my\s+|his\s+|her\s+)?legs",
    r"both\s+(?:of\s+)?(?:my\s+|his\s+|her\s+)?legs\s+<w>{0,3}(?:weak|numb|giving\s+way|gave\s+way|buckl\w*)",
    r"legs\s+(?:keep\s+|kept\s+|are\s+)?(?:giving|gave)\s+way",
)
BACK_PAIN = _p(
    r"back\s+(?:pain|ache|hurts|injury|problems?)",
    r"backache",
    r"sciatica",
    r"(?:pain|aching)\s+in\s+(?:my|his|her|the)\s+(?:lower\s+)?back",
    r"slipped\s+disc",
    r"(?:lower|low)\s+back",
)

ECTOPIC_PAIN = _p(
    r"(?:pain|cramps?|cramping|ache)\s+<w>{0,3}(?:on\s+one\s+side|(?:left|right)\s+side|"
    r"lower\s+(?:tummy|belly|abdomen|stomach)|pelvi\w*|(?:tummy|belly|abdomen|stomach))",
    r"(?:one[-\s]sided|(?:left|right)[-\s]sided|sharp|severe|bad)\s+<w>?(?:tummy|belly|abdominal|"
    r"stomach|pelvic|lower)\s+(?:pain|cramps?)",
    r"(?:tummy|belly|abdominal|stomach|pelvic)\s+(?:pain|cramps?)",
    r"shoulder[-\s]tip\s+pain",
    r"pain\s+<w>{0,2}(?:in\s+)?(?:the\s+)?tip\s+of\s+(?:my|her)\s+shoulder",
    r"(?:fainted|faint|dizzy|light[-\s]?headed|collapsed)",
)

TESTICULAR = _p(
    r"(?:sudden|severe|bad|intense|excruciating|agoni[sz]ing|terrible)\s+<w>{0,2}(?:pain|ache)"
    r"\s+<w>{0,2}(?:in\s+)?(?:(?:my|his|one|of|the|a|left|right)\s+)*"
    r"(?:testic\w*|testes|testis|scrotum|balls?|nuts)",
    r"(?:testic\w*|testes|testis|scrotum|balls?)\s+<w>{0,3}(?:suddenly|very)\s+"
    r"(?:painful|sore|swollen|hurts?|hurting)",
    r"(?:testic\w*|testis|scrotum|balls?)\s+(?:pain|ache)\s+<w>{0,3}" + SUDDEN,
    r"(?:twisted|torsion\s+of\s+(?:the|a|his|my))\s+(?:testic\w*|testis)",
    r"testicular\s+torsion",
    r"(?:sudden|acute|severe|bad|intense|excruciating|agoni[sz]ing)\s+<w>{0,2}(?:testicular|scrotal)\s+(?:pain|swelling)",
    r"(?:kicked|hit)\s+in\s+the\s+(?:balls|testicles|groin)\s+<w>{0,4}(?:swollen|still|hours)",
)

SEVERE_ABDOMINAL = _p(
    SEVERE + r"\s+<w>{0,2}(?:abdominal|stomach|tummy|belly|abdomen|gut|side|lower\s+right|"
    r"right\s+lower|upper\s+abdominal|pelvic|groin|kidney|loin|flank)\s*(?:pain|ache|cramps?)?",
    r"(?:abdominal|stomach|tummy|belly)\s+(?:pain|ache)\s+<w>{0,2}(?:is\s+)?" + SEVERE,
    r"(?:abdomen|stomach|tummy|belly)\s+<w>{0,2}(?:rigid|hard\s+as\s+a\s+board|board[-\s]like)",
    r"(?:tense|rigid|distended|swollen\s+and\s+hard)\s+<w>?(?:abdomen|stomach|tummy|belly)",
    r"guarding",
    r"(?:doubled|doubling|bent)\s+over\s+(?:in|with)\s+pain",
    r"(?:can't|cannot|couldn't)\s+(?:stand\s+up\s+straight|move|walk)\s+<w>{0,3}"
    r"(?:because\s+of\s+|from\s+|with\s+)?(?:the\s+)?(?:stomach|tummy|belly|abdominal)\s+pain",
    r"(?:moved|moving|spread|shifted)\s+to\s+(?:the\s+|my\s+|his\s+|her\s+)?(?:lower\s+)?right\s+"
    r"(?:side|lower)",
    r"(?:no|not)\s+<w>?(?:passed|passing)\s+(?:any\s+)?(?:wind|gas|stool)\s+<w>{0,3}"
    r"(?:vomit\w*|swollen|bloated)",
    r"(?:vomit\w*|throwing\s+up)\s+(?:green|bile|poo|faeces)",
    r"abdominal\s+aortic|(?:aortic\s+)?aneurysm",
    SEVERE
    + r"\s+(?:pain|ache|cramps?)\s+(?:in|across)\s+(?:my|his|her|the|their)\s+(?:upper\s+|lower\s+)?"
    r"(?:abdomen|stomach|tummy|belly|side|groin|loin|flank)",
    r"(?:migrat\w*|moved|moving|spread|shifted)\s+to\s+(?:the\s+)?(?:right\s+iliac\s+fossa|right\s+lower\s+quadrant|rif|rlq)",
    r"rebound\s+tenderness|peritonism|peritonitis|rigid\s+abdomen",
)

# NHS urinary retention: being unable to pee with a painful, swollen bladder is an emergency
# (go to A&E), with or without back pain. One pattern over the clause, so that "can't" is part
# of the finding and not a negation of the bladder words after it.
_CANNOT_PEE = (
    r"(?:can't|cannot|couldn't|unable\s+to|haven't\s+been\s+able\s+to|hasn't\s+been\s+able\s+to|"
    r"not\s+(?:been\s+)?able\s+to)\s+(?:pee|urinate|wee|pass\s+(?:any\s+)?urine)"
)
_FULL_BLADDER = (
    r"(?:(?:bladder|lower\s+(?:tummy|belly|abdomen|stomach))\s+(?:is\s+|feels\s+|looks\s+)?(?:very\s+|so\s+)?"
    r"(?:swollen|distended|painful|tender|bursting|full|hurts?)"
    r"|(?:swollen|distended|painful|tender|bursting)\s*,?\s+(?:(?:and|swollen|distended|painful|tender)\s+)?"
    r"(?:bladder|lower\s+(?:tummy|belly|abdomen)))"
)
URINARY_RETENTION = _p(
    _CANNOT_PEE + r"[^.;!?\n]{0,60}?" + _FULL_BLADDER,
    _FULL_BLADDER + r"[^.;!?\n]{0,40}?" + _CANNOT_PEE,
    r"(?:acute\s+)?urinary\s+retention\s+<w>{0,2}(?:with\s+)?(?:a\s+)?(?:painful|distended|tender)",
)

# NHS hernia: A&E when a hernia cannot be pushed back in, or turns hard and painful.
HERNIA = _p(r"hernias?")
HERNIA_STUCK = _p(
    r"(?:can't|cannot|couldn't|won't|will\s+not)\s+(?:be\s+)?(?:push\w*|go|pop\w*)\s+(?:it\s+|them\s+)?back",
    r"(?:hard|firm|tender)\s+and\s+(?:painful|tender)",
)

BABY = _p(
    r"(?:\d|1[0-2]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[-\s](?:weeks?|wks?)"
    r"[-\s]old",
    r"(?:\d|1[0-2]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+(?:weeks?|wks?)\s+old",
    r"(?:1|2|one|two)[-\s](?:months?)[-\s]old",
    r"(?:1|2|one|two)\s+months?\s+old",
    r"(?:aged?|is|was)\s+(?:\d|1[0-2])\s+(?:weeks?|wks?)",
    r"newborn",
    r"new[-\s]born",
    r"neonat\w*",
    r"(?:\d|1[0-2])\s+days?\s+old",
)
INFANT_FEVER = _p(
    *_FEVER_WORDS_AND_READINGS,
    r"(?:feels?|felt)\s+(?:very\s+)?hot",
    r"burning\s+up",
)

SEVERE_BURN = _p(
    r"(?:large|big|huge|bad|severe|serious|deep|major)\s+<w>?burns?",
    r"burns?\s+<w>{0,5}(?:bigger|larger)\s+than\s+(?:(?:my|his|her|a|the)\s+)?(?:hand|palm)",
    r"burn\w*\s+<w>{0,3}(?:on|to)\s+(?:(?:my|his|her|the)\s+)?(?:face|eyes?|genitals?|groin|"
    r"whole\s+(?:arm|leg|hand|back|chest))",
    r"(?:chemical|electrical|acid)\s+burns?",
    r"(?:electric\s+shock|electrocuted)",
    r"(?:skin|it|the\s+burn)\s+<w>{0,2}(?:is\s+|looks\s+|went\s+|turned\s+)?(?:white|charred|"
    r"black|leathery)\s*(?:and\s+(?:painless|numb|doesn't\s+hurt))?",
    r"(?:scalded|scalding|scald)\s+<w>{0,4}(?:(?:whole|entire)\s+\w+|large|big|chest|"
    r"arm|leg|back|tummy|face)",
    r"(?:burned|burnt)\s+<w>{0,3}(?:blister\w*\s+)?(?:all\s+over|whole|entire)",
    r"(?:smoke|fumes)\s+<w>{0,3}(?:inhal\w*|breathed\s+in)",
    r"(?:breathed|inhaled)\s+(?:in\s+)?<w>{0,3}(?:smoke|fumes)",
    r"house\s+fire",
    r"scald\w*\s+<w>{0,3}(?:over|on|to|across)\s+(?:his|her|my|the|their)\s+(?:chest|arms?|legs?|back|tummy|face|body)",
    r"(?:bleach|chemical|acid|alkali|cleaner|cement|lime|oven\s+cleaner)\s+<w>{0,3}(?:splash\w*|sprayed|went|got)\s+"
    r"(?:in|into)\s+(?:my|his|her|the|their)\s+eyes?",
    r"splash\w*\s+<w>{0,3}(?:bleach|chemical|acid|alkali|cleaner)\s+<w>{0,2}(?:in|into)\s+(?:my|his|her|the)\s+eyes?",
)

VISION_LOSS = _p(
    SUDDEN + r"\s+<w>{0,3}(?:lost|loss\s+of|losing|can't\s+see|cannot\s+see|blind\w*|"
    r"went\s+(?:black|dark|blind))",
    r"(?:lost|loss\s+of|losing|lose)\s+(?:the\s+)?<w>?(?:vision|sight|eyesight)\s+<w>{0,4}"
    r"(?:suddenly|in\s+one\s+eye|in\s+(?:my|his|her)\s+(?:left|right)\s+eye|all\s+at\s+once|"
    r"this\s+morning|an\s+hour\s+ago|today)",
    r"(?:can't|cannot|couldn't)\s+see\s+(?:anything\s+)?(?:out\s+of|with|in)\s+(?:my|his|her|one)\s+"
    r"(?:left\s+|right\s+)?eye",
    r"(?:curtain|shadow|veil|black\s+shade)\s+<w>{0,4}(?:over|across|coming\s+down)\s+"
    r"<w>{0,2}(?:vision|eye|sight)",
    r"(?:gone|went)\s+blind",
    r"(?:vision|sight|eye)\s+<w>{0,2}(?:went|gone|going|turned)\s+(?:black|dark|blank)",
    r"(?:sudden|suddenly)\s+<w>{0,2}(?:double|blurred)\s+vision",
)

INGESTION = _p(
    r"(?:swallow\w*|ate|eaten|eat|put\s+in\s+(?:his|her)\s+mouth|sucking\s+on)\s+<w>{0,3}"
    r"(?:button|coin|watch|lithium|disc|small\s+round)\s+batter(?:y|ies)",
    r"(?:swallow\w*|ate|eaten)\s+<w>{0,3}batter(?:y|ies)",
    r"batter(?:y|ies)\s+<w>{0,4}swallowed",
    r"(?:button|coin|lithium|disc)\s+batter(?:y|ies)\s+<w>{0,3}(?:in|into|up)\s+(?:his|her|their|my)\s+(?:mouth|nose|ear)",
    r"(?:swallow\w*|ate|eaten)\s+<w>{0,3}(?:magnets?|magnetic\s+(?:balls?|beads))",
    r"(?:swallow\w*|drank|drunk|ate|eaten|bit\s+into|chewed|chewing|sucked|drinking)\s+<w>{0,4}"
    r"(?:bleach|drain\s+cleaner|oven\s+cleaner|caustic|lye|acid|dishwasher\s+(?:tablet|pod|"
    r"detergent)s?|laundry\s+(?:pod|capsule|liquitab|tablet)s?|washing\s+(?:pod|capsule|tablet)s?"
    r"|descaler|toilet\s+cleaner|ammonia|caustic\s+soda)",
)

# Acute angle-closure glaucoma (NHS: go to A&E): a painful red eye with haloes or blurring.
EYE_HALOS = _p(
    r"halos?\s+(?:around|round)\s+(?:the\s+)?lights?",
    r"haloes\s+(?:around|round)\s+(?:the\s+)?lights?",
)
PAINFUL_EYE = _p(
    r"(?:painful|sore)\s+(?:red\s+)?eyes?",
    r"eyes?\s+(?:is\s+|are\s+)?(?:very\s+|really\s+|so\s+)?(?:painful|sore)",
    r"(?:pain|ache)\s+(?:in|behind)\s+(?:my|his|her|the)\s+eyes?",
    r"eye\s+pain",
)

# Measurements in the danger zone: the single-parameter red triggers of NEWS2 (Royal College of
# Physicians 2017: systolic 90 or less, pulse 131 or more, breathing 25 or more or 8 or less,
# oxygen saturation 91 % or less) and ESI's danger-zone vital signs; saturation 92 % or less
# from the NHS advice for home pulse oximeters ("go to A&E or call 999"). Pulse and breathing
# thresholds are adult ones: with a child's age in the text only NICE NG143's red thresholds
# for children under 5 apply (breathing over 60).
_SAT = r"(?:oxygen\s+(?:saturations?|sats?|levels?)|o2\s+sats?|spo2|sp\s*o2|sats?|saturations?|pulse\s+ox\w*)"
_SAT_LINK = r"\s*(?:(?:is|are|was|were|of|at|reading|reads|showing|shows|down\s+to|only|dropped\s+to|:|=)\s*){0,3}"
# Without a per cent sign only the unambiguous words ("sats 89 on air"; "sat" may be a verb).
_SAT_PLURAL = (
    r"(?:oxygen\s+(?:saturations?|sats?|levels?)|o2\s+sats?|spo2|sp\s*o2|sats|saturations?)"
)
LOW_OXYGEN = _p(
    _SAT + _SAT_LINK + r"(?:[5-8]\d|9[0-2])\s*%",
    _SAT_PLURAL + _SAT_LINK + r"(?:[5-8]\d|9[0-2])(?![.,]\d|\s*/)",
    r"(?:[5-8]\d|9[0-2])\s*%\s+(?:on|in)\s+(?:room\s+air|air)",
)
LOW_BLOOD_PRESSURE = _p(
    r"(?:blood\s+pressure|bp)\s*(?:(?:is|was|of|at|reading|down\s+to|only|dropped\s+to|:|=)\s*){0,3}"
    r"(?:[4-8]\d|90)\s*/\s*\d{2,3}",
    r"systolic\s+(?:blood\s+pressure\s+|bp\s+)?(?:(?:is|was|of|at|:|=)\s*){0,2}(?:[4-8]\d|90)\b",
)
FAST_PULSE = _p(
    r"(?:heart\s*rate|pulse(?:\s+rate)?|hr)\s*(?:(?:is|was|of|at|has\s+been|been|reading|up\s+to|:|=)\s*){0,3}"
    r"(?:13[1-9]|1[4-9]\d|2\d\d)\b",
)
FAST_BREATHING_ADULT = _p(
    r"(?:respiratory\s+rate|resp(?:iratory)?\s+rate|rr|breathing\s+rate|breaths?)\s*"
    r"(?:(?:is|was|of|at|:|=)\s*){0,2}(?:2[5-9]|[3-9]\d)\b",
    r"(?:respiratory\s+rate|rr|breathing\s+rate)\s*(?:(?:is|was|of|at|:|=)\s*){0,2}[0-8]\b",
)
FAST_BREATHING_CHILD = _p(
    r"(?:respiratory\s+rate|resp(?:iratory)?\s+rate|rr|breathing\s+rate|breaths?)\s*"
    r"(?:(?:is|was|of|at|:|=)\s*){0,2}(?:[6-9]\d|1\d\d)\b",
)
HIGH_BLOOD_PRESSURE = _p(
    r"(?:blood\s+pressure|bp)\s*(?:(?:is|was|of|at|reading|up\s+to|:|=)\s*){0,3}(?:2[2-9]\d)\s*/\s*\d{2,3}",
    r"systolic\s+(?:blood\s+pressure\s+|bp\s+)?(?:(?:is|was|of|at|:|=)\s*){0,2}(?:2[2-9]\d)\b",
)

# NEWS2's aggregate score (Royal College of Physicians 2017) over the readings a text gives, in
# lay or clinical wording ("pulse 120, temp 39.5", "T 38.6, HR 118, RR 23, BP 96/58"). A total
# of 5 or more is NEWS2's key threshold for an urgent response, and NICE NG51 treats it as a
# sign of possible sepsis; at home that means emergency care now. A 3 in any one parameter is a
# red score on its own: it also covers a very slow pulse (40 or less), a systolic pressure of
# 220 or more and a temperature of 35.0 or less. Each parameter counts its worst reading; one
# not given scores 0 (so the total can only be too low). Oxygen uses scale 1 (not the
# hypercapnic scale 2) and the consciousness item is left to the altered-consciousness rules.
_NUMBER = r"(\d{1,3}(?:[.,]\d)?)"
NEWS2_READINGS: dict[str, tuple[re.Pattern[str], ...]] = {
    "respiration": (
        _p(
            r"(?:respiratory\s+rate|resp(?:iratory)?\s+rate|resps|rr|breathing\s+rate|breathing)"
            r"\s*(?:(?:is|was|of|at|:|=)\s*){0,2}" + _NUMBER + r"(?!\s*(?:%|/\s*\d|years?|months?))"
        ),
        _p(_NUMBER + r"\s+breaths\s+(?:a|per)\s+min\w*"),
    ),
    "saturation": (
        _p(_SAT_PLURAL + _SAT_LINK + _NUMBER + r"(?!\s*/)", _SAT + _SAT_LINK + _NUMBER + r"\s*%"),
    ),
    "systolic": (
        _p(
            r"(?:blood\s+pressure|bp)\s*(?:(?:is|was|of|at|reading|down\s+to|up\s+to|only|:|=)\s*){0,3}"
            + _NUMBER
            + r"\s*/\s*\d{2,3}"
        ),
        _p(r"systolic\s+(?:blood\s+pressure\s+|bp\s+)?(?:(?:is|was|of|at|:|=)\s*){0,2}" + _NUMBER),
    ),
    "pulse": (
        _p(
            r"(?:heart\s*rate|pulse(?:\s+rate)?|hr)\s*(?:(?:is|was|of|at|has\s+been|been|reading|up\s+to|:|=)\s*){0,3}"
            + _NUMBER
            + r"(?!\s*(?:%|/\s*\d))"
        ),
        _p(_NUMBER + r"\s*(?:bpm|beats\s+(?:a|per)\s+min\w*)"),
    ),
    "temperature": (_p(TEMPERATURE_WORD + _NUMBER + r"\s*(?:°\s*)?(?:c\b|f\b)?"),),
}


# NEWS2 points by reading: (lowest, highest, points) bands; a number outside them is not that
# reading (a typo or another number).
NEWS2_BANDS: dict[str, tuple[tuple[float, float, int], ...]] = {
    "respiration": ((4, 8, 3), (9, 11, 1), (12, 20, 0), (21, 24, 2), (25, 80, 3)),
    "saturation": ((50, 91, 3), (92, 93, 2), (94, 95, 1), (96, 100, 0)),
    "systolic": ((40, 90, 3), (91, 100, 2), (101, 110, 1), (111, 219, 0), (220, 300, 3)),
    "pulse": ((20, 40, 3), (41, 50, 1), (51, 90, 0), (91, 110, 1), (111, 130, 2), (131, 250, 3)),
    "temperature": (
        (30, 35.0, 3),
        (35.1, 36.0, 1),
        (36.1, 38.0, 0),
        (38.1, 39.0, 1),
        (39.1, 43, 2),
    ),
}


def _news2_points(parameter: str, value: float) -> int | None:
    """NEWS2 points of one reading (None for a number that cannot be that reading)."""
    if parameter == "temperature" and 86 <= value <= 110:  # Fahrenheit
        value = round((value - 32) * 5 / 9, 1)
    for low, high, points in NEWS2_BANDS[parameter]:
        if low <= value <= high:
            return points
    return None


def news2(text: str) -> tuple[int, int]:
    """NEWS2 over the readings in ``text``: (aggregate, highest single parameter)."""
    worst: dict[str, int] = {}
    for parameter, patterns in NEWS2_READINGS.items():
        for pattern in patterns:
            for match in affirmed(pattern, text):
                points = _news2_points(parameter, float(match.group(1).replace(",", ".")))
                if points is not None:
                    worst[parameter] = max(points, worst.get(parameter, 0))
    return sum(worst.values()), max(worst.values(), default=0)


def news2_red(text: str) -> bool:
    """An aggregate NEWS2 of 5 or more, or 3 in one parameter."""
    total, single = news2(text)
    return total >= 5 or single >= 3


VITAL_READING = _p(
    *(pattern.pattern for patterns in NEWS2_READINGS.values() for pattern in patterns)
)

CHILD = _p(
    r"(?:\d|1[0-5])[-\s](?:years?|yrs?|months?|weeks?|days?)[-\s]old",
    r"(?:\d|1[0-5])\s+(?:years?|yrs?|months?|weeks?|days?)\s+old",
    r"(?:baby|babies|infant|toddler|child|newborn|neonate|boy|girl|son|daughter)",
)

# Severe pain: the Manchester Triage System's general discriminator "severe pain" (7 to 10 on a
# 10-point scale, an orange, very urgent priority in every presentation) and ESI's level 2
# "severe pain or distress". It lands in the emergency level when the pain is new and its
# severity is unmistakable: the strongest words ("excruciating", "unbearable", "in agony",
# "worst pain I've ever had", writhing or screaming with pain), a score of 7 or more out of 10,
# or "severe" pain of sudden onset or as a clinician writes it ("presents with severe pain").
# The lay words "severe", "terrible" or "really bad" alone are no score (the MTS asks for one or
# for the assessor's judgement): they stay with the organ-specific rules (chest, abdomen,
# testicle, sudden headache) and the "see a doctor" cues of ``levels.py``. Chronic, usual or
# settled pain is not this discriminator, and the NHS pages send severe toothache to an urgent
# dentist and severe period pain, earache or sore throat to a GP.
_SEVERE_STRONG = (
    r"(?:excruciating|excruciatingly|unbearable|unbearably|intolerable|agoni[sz]ing|unimaginable)"
)
SEVERE_PAIN = _p(
    _SEVERE_STRONG + r"\s+<w>{0,2}pains?",
    r"pains?\s+<w>{0,4}(?:is|was|are|were|has\s+been|feels?|felt|became|getting|got)\s+"
    r"(?:so\s+|now\s+|absolutely\s+|just\s+|totally\s+)?" + _SEVERE_STRONG,
    r"(?:sudden(?:ly)?|acute|abrupt)\s+(?:onset\s+(?:of\s+)?)?(?:severe|extreme)\s+<w>{0,2}pains?",
    r"(?:presents?|presenting|presented|arrives?|arrived|brought\s+in)\s+with\s+<w>{0,2}(?:severe|extreme)\s+<w>{0,2}pains?",
    r"(?:in|with)\s+(?:absolute\s+|complete\s+|total\s+|such\s+|real\s+|terrible\s+)?agony",
    r"worst\s+pain\s+(?:of\s+(?:my|his|her|their)\s+life|(?:i've|i\s+have|i|he's|she's|he\s+has|"
    r"she\s+has|they've|they\s+have)\s+ever|ever|imaginable)"
    # not a comparison with a past pain ("the worst pain I've ever had was giving birth")
    r"(?!\s+(?:(?:had|felt|experienced|known)\s+)?(?:was|were)\b)",
    r"writh\w*",
    r"(?:rolling|rolled|rolls)\s+(?:around|about)\s+<w>{0,3}(?:in|with)\s+(?:the\s+)?pain",
    r"(?:screaming|screams|screamed|crying\s+out|cries\s+out|howling|shrieking|yelling)\s+"
    r"(?:in|with)\s+pain",
    r"(?:can't|cannot|couldn't)\s+(?:keep|stay|sit|lie)\s+still\s+(?:with|for|because\s+of)\s+(?:the\s+)?pain",
    r"pain\s+(?:score|scale|rating)\s*(?:(?:of|is|was|at|:|=)\s*){0,2}(?:[7-9]|10)(?!\s*(?:/|out\s+of)\s*(?:[2-9]\d|100))",
)
# A score of 7 or more out of 10, counted when the sentence speaks of pain ("I scored my mood
# 8/10" is not pain); not a date (7/10/2026).
PAIN_SCORE_HIGH = _p(
    r"(?<![/\d.])(?:[7-9]|10)\s*(?:/|out\s+of)\s*10(?!\s*/\s*\d)",
    r"(?:seven|eight|nine|ten)\s+out\s+of\s+ten",
)
PAIN_WORD = _p(r"pains?|painful|hurts?|hurting|agony|sore")
PAIN_NOT_ACUTE = _p(
    # chronic, usual or recurring
    r"chronic(?:ally)?",
    r"(?:my|his|her|their|the)\s+usual|as\s+usual|usual\s+(?:pain|migraine|period|cramps|flare)",
    r"(?:same|like)\s+as\s+(?:always|usual|before)|like\s+always|as\s+always",
    r"every\s+(?:month|period|day)|most\s+days|on\s+and\s+off|comes\s+and\s+goes|flare[-\s]?ups?",
    r"now\s+and\s+then|from\s+time\s+to\s+time|every\s+so\s+often|keeps?\s+coming\s+back",
    r"(?:for|over)\s+(?:(?:several|many|a\s+few|\d+|two|three|four|five|six)\s+)?(?:months|years)|for\s+ages",
    # settled, improving or controlled
    r"(?:getting|got|feeling|feels)\s+better|improving|(?:is|it's)\s+easing",
    r"(?:it|pain|which|that)\s+<w>{0,2}(?:settled|eased|subsided|went\s+away|has\s+gone|had\s+gone|wore\s+off)",
    r"(?:fine|better|okay|ok)\s+now|pain[-\s]free\s+now|no\s+pain\s+now",
    r"(?:painkillers|paracetamol|ibuprofen|co-codamol|codeine)\s+<w>{0,2}(?:help|helps|helped|helping|"
    r"work|works|worked|working|control\w*)",
    # sites the NHS pages send elsewhere when severe: a dentist, a GP
    r"tooth|teeth|toothache|dental|dentist|gums?|wisdom",
    r"ears?|earache",
    r"period\s+(?:pain|cramps?)|periods?\s+<w>{0,3}(?:pain|painful|cramps?)|menstrua\w*|dysmenorrh\w*",
    r"sore\s+throat",
)


# Serious injuries: the NHS pages on broken bones (call 999 when the bone is sticking out or the
# limb is out of shape), severed body parts, stab wounds, eye injuries (A&E when something went
# into the eye at speed) and falls (call 999 when someone is hurt and cannot get up); MTS's
# "gross deformity" and "open fracture"; ESI's high-risk mechanisms and NICE NG41's dangerous
# mechanisms (a fall from a height, a pedestrian or cyclist hit by a vehicle) with neck or back
# pain. A deep cut that needs stitches is an urgent treatment centre's (see a doctor).
_LIMB = (
    r"(?:arm|forearm|leg|wrist|ankle|elbow|knee|shoulder|hip|thigh|shin|finger|thumb|toe|foot|hand)"
)
SERIOUS_INJURY = _p(
    r"bones?\s+<w>{0,2}(?:sticking|poking|coming|stuck|protruding)\s+(?:out|through)",
    r"(?:open|compound)\s+fracture",
    _LIMB + r"\s+<w>{0,3}(?:bent|twisted|pointing|facing)\s+(?:at\s+|in\s+)?(?:an?\s+|the\s+)?"
    r"(?:wrong|funny|odd|strange|weird|unnatural|awkward)\s+(?:way|angle|direction)",
    _LIMB + r"\s+<w>{0,2}(?:looks?|is|was)\s+(?:deformed|misshapen|out\s+of\s+shape|"
    r"(?:an?\s+)?(?:odd|funny|strange|weird)\s+shape)",
    r"(?:obvious|gross)\s+deformity|deformed\s+" + _LIMB,
    r"(?:(?:leg|foot)\s+<w>{0,2}(?:looks?\s+|is\s+)?(?:shorter|shortened)\s+and\s+(?:turned|rotated)\s+out)",
    r"(?:cut|chopped|sliced|ripped|torn|sawn)\s+(?:off\s+)?(?:the\s+(?:tip|end)\s+of\s+)?(?:my|his|her|their)\s+"
    r"(?:finger(?:tip)?|thumb|toe|hand|foot|ear)\s+off",
    r"(?:cut|chopped|sliced|ripped|torn|sawn)\s+off\s+(?:the\s+(?:tip|end)\s+of\s+)?(?:my|his|her|their)\s+"
    r"(?:finger(?:tip)?|thumb|toe|hand|foot|ear)",
    r"amputat\w*|severed\s+(?:finger|thumb|toe|hand|foot|limb|arm|leg)",
    r"knife\s+wound|gunshot|shot\s+(?:in|with)\s+(?:the|a|his|her|my)",
    r"impaled|(?:knife|glass|metal|stick|nail|rod|pole|object)\s+<w>{0,2}(?:stuck|embedded|lodged)\s+in\s+"
    r"(?:my|his|her|the)\s+(?:chest|eye|neck|abdomen|tummy|belly|back|head)",
    r"(?:metal|glass|wood|stone|grit|something|a\s+piece\s+of\s+\w+|a\s+(?:shard|splinter|fragment)(?:\s+of\s+\w+)?)"
    r"\s+<w>{0,2}(?:flew|went|shot|pierced)\s+(?:in|into)\s+(?:my|his|her|the|their)\s+eye",
    r"(?:fell|fallen|falling|had\s+a\s+fall)\s+<w>{0,5}(?:can't|cannot|couldn't|unable\s+to|not\s+able\s+to|"
    r"(?:hasn't|haven't|has\s+not|have\s+not)\s+been\s+able\s+to)\s+"
    r"get\s+(?:up|off\s+the\s+floor)",
    r"(?:can't|cannot|couldn't|unable\s+to)\s+get\s+(?:up|off\s+the\s+floor)\s+(?:after|since)\s+(?:a|the|her|his|my)\s+fall",
)
# A stabbing or a person hit by a vehicle, unless the words describe a feeling ("a stabbing
# pain", "like being stabbed", "I feel like I've been hit by a bus").
STABBED_OR_HIT = _p(
    r"stab\s+(?:wounds?|injur\w*)",
    r"(?:was|been|got|were|is|has\s+been|have\s+been)\s+stabbed",
    r"(?:hit|knocked\s+(?:down|over)|run\s+over|struck)\s+by\s+(?:a|the)\s+(?:car|van|lorry|bus|truck|"
    r"motorbike|motorcycle|vehicle|train|tram)",
)
SIMILE = _p(
    r"(?:like|as\s+if|as\s+though)\s+<w>{0,4}(?:stabbed|stab|stabbing|hit|run\s+over|knocked)",
    r"stabbing\s+(?:pains?|feeling|sensation|ache)",
)
DANGEROUS_FALL = _p(
    r"(?:fell|fallen|falling|fall)\s+(?:off|from|down)\s+<w>{0,2}(?:roof|ladder|scaffold\w*|balcony|"
    r"building|height|window|horse|cliff|tree|(?:a\s+|the\s+)?(?:whole\s+)?flight\s+of\s+stairs)",
    r"(?:came|come|thrown)\s+off\s+(?:a|the|my|his|her)\s+(?:horse|motorbike|motorcycle|bike|scooter)",
    r"(?:car|motorbike|motorcycle|road\s+traffic)\s+(?:crash|accident|collision)",
)
SPINE_WARNING = _p(
    r"(?:neck|back)\s+(?:pain|hurts?|ache|injury)",
    r"(?:pain|hurts?)\s+in\s+(?:my|his|her|their|the)\s+(?:neck|back)",
    r"(?:tingling|numb\w*|pins\s+and\s+needles|weak\w*)\s+<w>{0,3}(?:arms?|legs?|hands?|feet)",
    r"(?:can't|cannot|couldn't|unable\s+to)\s+(?:move|feel)\s+(?:my|his|her|their)\s+(?:arms?|legs?|hands?|feet)",
)

# Pregnancy: the NHS pages' "call your maternity unit now" signs (the baby moving less or in a
# different pattern, waters breaking before 37 weeks, the signs of pre-eclampsia: a severe
# headache, blurred or flashing vision, pain below the ribs, sudden swelling of the face, hands
# or feet) and NICE NG133's severe hypertension in pregnancy (160/110 or more).
REDUCED_FETAL_MOVEMENT = _p(
    r"(?:reduced|decreased|fewer|less|no|slower|change\w*\s+in)\s+(?:fetal|foetal|baby(?:'s)?)\s+movements?",
)
BABY_NOT_MOVING = _p(
    r"(?:baby|bump)\s+(?:hasn't|has\s+not|isn't|is\s+not|hasn't\s+been|has\s+stopped|stopped|not|hardly|barely)\s+"
    r"(?:been\s+)?(?:moved|moving|kicked|kicking)",
    r"(?:baby|bump)\s+<w>{0,3}(?:moving|kicking)\s+(?:a\s+lot\s+|much\s+)?less",
    r"(?:haven't|have\s+not|hasn't|not|can't|cannot|couldn't)\s+(?:felt|feel|feeling)\s+(?:the\s+|my\s+|her\s+)?"
    r"baby\s+(?:move|moving|kick\w*)",
)
WATERS_BROKEN = _p(
    r"waters?\s+<w>{0,2}(?:broke|broken|went|gone|breaking|have\s+broken|has\s+broken)",
    r"(?:leaking|gush\w*|trickl\w*)\s+<w>{0,2}(?:fluid|water)\s+<w>{0,2}(?:from\s+)?(?:my|her|the)?\s*vagina",
)
PRETERM = _p(r"(?:[1-9]|[12]\d|3[0-6])\s*(?:weeks?|wks?)(?![-\s]+old)")
PRE_ECLAMPSIA = _p(
    r"(?:severe|bad|terrible|really\s+bad|awful|pounding)\s+headache",
    r"(?:blurred|blurry|flashing|flashes\s+(?:of|in)\s+(?:my|her)|spots\s+(?:before|in\s+front\s+of))\s+<w>?(?:vision|lights|eyes|sight)",
    r"(?:vision|sight)\s+<w>?(?:blurred|blurry|problems|disturbance)",
    r"pain\s+(?:just\s+)?(?:below|under)\s+(?:my|her|the)\s+ribs",
    r"(?:sudden|suddenly)\s+<w>{0,2}(?:swelling|swollen|puffy)\s+<w>{0,3}(?:face|hands|feet|fingers)",
    r"(?:face|hands|feet|fingers)\s+<w>{0,3}(?:suddenly|very)\s+(?:swollen|puffy|swelled)",
    r"(?:blood\s+pressure|bp)\s*(?:(?:is|was|of|at|reading|up\s+to|:|=)\s*){0,3}(?:1[6-9]\d|2\d\d)\s*/\s*\d{2,3}",
    r"(?:blood\s+pressure|bp)\s*(?:(?:is|was|of|at|reading|up\s+to|:|=)\s*){0,3}\d{2,3}\s*/\s*(?:1[1-9]\d)",
)
# Pre-eclampsia comes after 20 weeks: an earlier stated week does not count.
EARLY_PREGNANCY = _p(r"(?:[1-9]|1\d)\s*(?:weeks?|wks?)\s+(?:pregnant|gone)")


# --- rules --------------------------------------------------------------------------------------

Finder = Callable[[str], list[re.Match[str]]]


@dataclass(frozen=True)
class Rule:
    category: str
    pattern: re.Pattern[str]
    # When set, a non-negated match of this pattern must also be in the text (any sentence).
    requires: re.Pattern[str] | None = None
    # Where the companion must be: the whole text, or the flag's own sentence.
    same_sentence: bool = False
    # When set, the rule does not apply if this pattern is in the text (e.g. adult thresholds
    # of a measurement when the text is about a child).
    unless: re.Pattern[str] | None = None
    # When set, the rule applies only when this test of the whole text holds (NEWS2's score).
    gate: Callable[[str], bool] | None = field(default=None, compare=False)
    # "en" or "zh": which negation and past-tense cues apply.
    lang: str = "en"
    note: str = field(default="", compare=False)


RULES: tuple[Rule, ...] = (
    Rule("chest_pain", CHEST_PAIN_ANY, requires=CHEST_PAIN_CHARACTER, note="heart-attack pattern"),
    Rule("chest_pain", CHEST_PAIN_ANY, requires=CHEST_PAIN_COMPANION, note="spreading, sweating"),
    Rule("stroke", STROKE),
    Rule("thunderclap_headache", THUNDERCLAP),
    Rule("meningitis", MENINGITIS_RASH),
    Rule("meningitis", STIFF_NECK, requires=FEVER),
    Rule("meningitis", STIFF_NECK, requires=LIGHT_HEADACHE),
    Rule("anaphylaxis", ANAPHYLAXIS),
    Rule("anaphylaxis", ALLERGIC_SWELLING, requires=ANAPHYLAXIS_COMPANION),
    Rule("overdose_poisoning", OVERDOSE),
    Rule("suicidal", SUICIDAL),
    Rule("self_harm", SELF_HARM),
    Rule("harm_to_others", HARM_TO_OTHERS),
    Rule("severe_bleeding", SEVERE_BLEEDING),
    Rule("severe_bleeding", VAGINAL_BLEEDING, requires=PREGNANT),
    Rule("sepsis", SEPSIS),
    Rule("sepsis", SEPSIS_FEVER_SIGN, requires=FEVER),
    Rule("sepsis", SKIN_INFECTION, requires=FEVER, note="cellulitis with a fever"),
    Rule("breathing", SEVERE_BREATHING),
    Rule("breathing", DROOLING, requires=DROOLING_COMPANION),
    Rule("breathing", CHOKING, requires=CHOKING_COMPANION),
    Rule("breathing", CLOT_IN_LUNG, requires=LEG_CLOT, note="leg clot with breathlessness"),
    Rule("breathing", CANNOT_SWALLOW, requires=THROAT, note="sore throat, cannot swallow"),
    Rule("breathing", BREATHLESS, requires=NECK_SWELLING, note="swollen jaw or neck"),
    Rule("altered_consciousness", ALTERED_CONSCIOUSNESS),
    Rule("seizure", SEIZURE),
    Rule("head_injury", HEAD_INJURY, requires=HEAD_INJURY_WARNING),
    Rule("diabetic_emergency", DIABETIC_EMERGENCY, requires=DIABETES),
    Rule("cauda_equina", CAUDA_EQUINA, requires=BACK_PAIN),
    Rule("ectopic_pregnancy", ECTOPIC_PAIN, requires=PREGNANT),
    Rule("testicular_torsion", TESTICULAR),
    Rule("severe_abdominal_pain", SEVERE_ABDOMINAL),
    Rule("severe_abdominal_pain", URINARY_RETENTION, note="acute urinary retention"),
    Rule("severe_abdominal_pain", HERNIA_STUCK, requires=HERNIA, note="hernia cannot go back"),
    Rule("infant_fever", INFANT_FEVER, requires=BABY),
    Rule("severe_burn", SEVERE_BURN),
    Rule("vision_loss", VISION_LOSS),
    Rule("vision_loss", EYE_HALOS, requires=PAINFUL_EYE),
    Rule("ingestion", INGESTION),
    Rule("vital_signs", LOW_OXYGEN),
    Rule("vital_signs", LOW_BLOOD_PRESSURE),
    Rule("vital_signs", FAST_PULSE, unless=CHILD),
    Rule("vital_signs", FAST_BREATHING_ADULT, unless=CHILD),
    Rule("vital_signs", FAST_BREATHING_CHILD),
    Rule("vital_signs", HIGH_BLOOD_PRESSURE, note="NEWS2 systolic 220 or more"),
    Rule("vital_signs", VITAL_READING, gate=news2_red, unless=CHILD, note="NEWS2 5 or more"),
    Rule("serious_injury", SERIOUS_INJURY),
    Rule("serious_injury", STABBED_OR_HIT, unless=SIMILE),
    Rule("serious_injury", DANGEROUS_FALL, requires=SPINE_WARNING, note="dangerous mechanism"),
    Rule("pregnancy_warning", REDUCED_FETAL_MOVEMENT),
    Rule("pregnancy_warning", BABY_NOT_MOVING, requires=PREGNANT),
    Rule("pregnancy_warning", WATERS_BROKEN, requires=PRETERM, note="before 37 weeks"),
    Rule("pregnancy_warning", PRE_ECLAMPSIA, requires=PREGNANT, unless=EARLY_PREGNANCY),
    Rule("severe_pain", SEVERE_PAIN, unless=PAIN_NOT_ACUTE),
    Rule(
        "severe_pain",
        PAIN_SCORE_HIGH,
        requires=PAIN_WORD,
        same_sentence=True,
        unless=PAIN_NOT_ACUTE,
        note="pain 7-10 out of 10",
    ),
)


ZH_RULES: tuple[Rule, ...] = tuple(
    Rule(category, pattern, requires=requires, unless=unless, lang="zh")
    for category, pattern, requires, unless in rules_zh.RULE_SPECS
)


def affirmed(pattern: re.Pattern[str], text: str, lang: str = "en") -> list[re.Match[str]]:
    """Matches of ``pattern`` in ``text`` that are neither negated nor said to be past."""
    return list(_affirmed(pattern, text, lang))


@lru_cache(maxsize=256)
def _affirmed(pattern: re.Pattern[str], text: str, lang: str) -> tuple[re.Match[str], ...]:
    negated, past = (
        (rules_zh.is_negated, rules_zh.is_past) if lang == "zh" else (is_negated, is_past)
    )
    return tuple(
        match
        for match in pattern.finditer(text)
        if not negated(text, match.start()) and not past(text, match.start(), match.end())
    )


def _has_companion(rule: Rule, text: str, match: re.Match[str]) -> bool:
    assert rule.requires is not None
    if rule.same_sentence:
        scope = sentence_at(text, match.start())
        return any(m.span() != (0, 0) for m in affirmed(rule.requires, scope, rule.lang))
    return any(
        companion.span() != match.span() and not _overlaps(companion, match)
        for companion in affirmed(rule.requires, text, rule.lang)
    )


def _overlaps(a: re.Match[str], b: re.Match[str]) -> bool:
    return a.start() < b.end() and b.start() < a.end()


def normalise(text: str) -> str:
    """Typographic apostrophes as plain ones (same length, so offsets still index ``text``)."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def find_flags(text: str, rules: Iterable[Rule] | None = None) -> list[Flag]:
    """Every category whose rule fires on ``text``: one flag per category, at its first match.

    The English rules always run; the Chinese ones when the text has Chinese characters.
    """
    if rules is None:
        rules = (*RULES, *ZH_RULES) if rules_zh.CJK.search(text) else RULES
    # The caches serve the rules of one call (they share patterns); a text is read afresh.
    _affirmed.cache_clear()
    _ends.cache_clear()
    original = text
    text = normalise(text)
    flags: dict[str, Flag] = {}
    for rule in rules:
        if rule.category in flags:
            continue
        if rule.unless is not None and affirmed(rule.unless, text, rule.lang):
            continue
        if (
            rule.requires is not None
            and not rule.same_sentence
            and not affirmed(rule.requires, text, rule.lang)
        ):
            continue  # no companion anywhere: the rule cannot fire
        matches = [
            match
            for match in affirmed(rule.pattern, text, rule.lang)
            if rule.requires is None or _has_companion(rule, text, match)
        ]
        if not matches or (rule.gate is not None and not rule.gate(text)):
            continue
        if rule.requires is not None:
            # The sentence shown should say why: prefer a match with its companion beside it.
            requires = rule.requires
            lang = rule.lang
            matches.sort(key=lambda m: not affirmed(requires, sentence_at(text, m.start()), lang))
        match = matches[0]
        flags[rule.category] = Flag(
            category=rule.category,
            sentence=sentence_at(original, match.start()),
            matched_text=original[match.start() : match.end()],
            start=match.start(),
            end=match.end(),
        )
    return sorted(flags.values(), key=lambda flag: flag.start)
