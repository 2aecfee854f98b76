"""Red-flag rules: symptoms that make a consultation an emergency whatever the model says.

Triage is not left to the classifier's probabilities: the model only knows 24 mostly
non-emergency conditions and would happily call a heart attack "GERD". Each rule is a small set
of regular expressions over the patient's own words; a match raises urgency to ``emergency``
with the rule's reason and the matched text. Rules err on the side of flagging (a doctor reviews
every flag), except for a cheap negation check: a phrase preceded in the same clause by a
negation cue ("no", "not", "without", "denies", "don't", ...) does not count, so "no chest pain"
raises nothing. Torch-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medconsult.ml.types import RedFlag, Urgency, most_urgent


def _pattern(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


# Negation cues counted only inside the clause before a match, at most this many words back.
NEGATION_WINDOW_WORDS = 6
_NEGATION = re.compile(
    r"\b(?:no|not|never|without|denies|denied|deny|none|neither|nor|negative\s+for|free\s+of)\b"
    r"|n't\b|\bnot\s+any\b",
    re.IGNORECASE,
)
# A clause ends at sentence punctuation or a contrast word; negation does not cross it.
_CLAUSE_BOUNDARY = re.compile(r"[.;:!?\n]|\bbut\b|\bhowever\b|\balthough\b|\bthough\b", re.I)

CHEST_PAIN = _pattern(
    r"chest\s+(?:pain|pains|tightness|pressure|discomfort|hurts?|ache|aches)",
    r"(?:pain|tightness|pressure|discomfort)\s+in\s+(?:my|the)\s+chest",
    r"my\s+chest\s+(?:hurts|is\s+tight|feels\s+tight|aches)",
)
BREATHLESS = _pattern(
    r"short(?:ness)?\s+of\s+breath",
    r"breathless(?:ness)?",
    r"(?:difficulty|trouble|problems?|struggling|hard\s+time)\s+(?:in\s+)?breathing",
    r"(?:difficult|hard)\s+to\s+breathe",
    r"breathing\s+difficult(?:y|ies)",
    r"can(?:no|')t\s+(?:catch\s+my\s+breath|breathe)",
    r"unable\s+to\s+breathe",
    r"gasping\s+for\s+(?:air|breath)",
    r"out\s+of\s+breath",
)
SEVERE_BREATHING = _pattern(
    r"can(?:no|')t\s+breathe",
    r"unable\s+to\s+breathe",
    r"gasping\s+for\s+(?:air|breath)",
    r"(?:lips|face|fingers)\s+(?:are\s+|is\s+|turning\s+|turned\s+|going\s+)?blue",
)
STROKE = _pattern(
    r"(?:face|facial|mouth)\s+(?:is\s+)?droop(?:s|ing|y|ed)?",
    r"droop(?:ing|y)\s+(?:face|mouth|eyelid|side\s+of\s+(?:my|the)\s+face)",
    r"one\s+side\s+of\s+(?:my|the|his|her)\s+face\s+(?:is\s+)?(?:droop\w*|numb|weak)",
    r"slurr(?:ed|ing)\s+(?:speech|words)",
    r"(?:speech|words)\s+(?:is\s+|are\s+)?slurred",
    r"(?:weakness|numbness|paralysis)\s+(?:on|in|of)\s+(?:one|the\s+(?:left|right))\s+side",
    r"one[-\s]sided\s+(?:weakness|numbness|paralysis)",
    r"(?:left|right)\s+(?:arm|leg|side)\s+(?:is\s+|went\s+|feels\s+|suddenly\s+)?"
    r"(?:weak|numb|paralysed|paralyzed)",
    r"can(?:no|')t\s+(?:move|lift|feel)\s+(?:my\s+)?(?:left|right)\s+(?:arm|leg|side)",
)
SEVERE_BLEEDING = _pattern(
    r"(?:severe|heavy|profuse|massive|uncontrolled|uncontrollable|lots\s+of)\s+bleeding",
    r"bleeding\s+(?:heavily|a\s+lot|profusely)",
    r"bleeding\s+(?:that\s+|which\s+)?(?:won't|will\s+not|doesn't|does\s+not|can't|cannot)\s+stop",
    r"vomit(?:ing|ed|s)?\s+(?:up\s+)?(?:blood|bloody)",
    r"throw(?:ing|n)?\s+up\s+blood|threw\s+up\s+blood",
    r"blood\s+in\s+(?:my\s+)?vomit",
    r"cough(?:ing|ed|s)?\s+up\s+(?:a\s+lot\s+of\s+)?blood",
)
ANAPHYLAXIS_THROAT = _pattern(
    r"throat\s+(?:is\s+|feels\s+|has\s+been\s+)?(?:swelling|swollen|closing|closing\s+up)",
    r"swelling\s+(?:of|in)\s+(?:my\s+|the\s+)?(?:throat|tongue)",
    r"(?:swollen|swelling)\s+(?:throat|tongue)",
    r"tongue\s+(?:is\s+)?(?:swelling|swollen)",
)
LIP_FACE_SWELLING = _pattern(
    r"(?:lips?|face|eyes?)\s+(?:are\s+|is\s+|have\s+|has\s+)?(?:swelling|swollen|swelled)",
    r"swelling\s+(?:of|in)\s+(?:my\s+|the\s+)?(?:lips?|face)",
    r"(?:swollen|swelling)\s+(?:lips?|face)",
)
SUICIDE_SELF_HARM = _pattern(
    r"suicid\w*",
    r"kill(?:ing)?\s+myself",
    r"end(?:ing)?\s+(?:my|it)\s+(?:life|all)",
    r"take\s+my\s+(?:own\s+)?life",
    r"self[-\s]harm\w*",
    r"harm(?:ing)?\s+myself|hurt(?:ing)?\s+myself|cut(?:ting)?\s+myself",
    r"want\s+to\s+die|wish\s+I\s+(?:was|were)\s+dead|better\s+off\s+dead",
)
LOSS_OF_CONSCIOUSNESS = _pattern(
    r"(?:lost|lose|losing|loss\s+of)\s+consciousness",
    r"passed\s+out|passing\s+out|pass\s+out",
    r"faint(?:ed|ing)|fainting\s+spells?",
    r"blacked\s+out|blacking\s+out",
    r"unconscious|unresponsive|collapsed",
    r"(?:seizure|seizures|convulsions?|fits)",
)
STIFF_NECK = _pattern(
    r"stiff\s+neck",
    r"neck\s+(?:is\s+|feels\s+|has\s+been\s+|became\s+)?(?:very\s+)?stiff",
    r"stiffness\s+(?:in|of)\s+(?:my\s+|the\s+)?neck",
    r"can(?:no|')t\s+(?:bend|move)\s+my\s+neck",
)
FEVER = _pattern(r"fever(?:s|ish)?", r"high\s+temperature", r"febrile")


@dataclass(frozen=True)
class Rule:
    rule_id: str
    reason: str
    pattern: re.Pattern[str]
    # When set, the rule needs a (non-negated) match of this pattern anywhere in the text too.
    requires: re.Pattern[str] | None = None


RULES: tuple[Rule, ...] = (
    Rule(
        "chest_pain_breathless",
        "Chest pain with breathlessness: possible heart attack or pulmonary embolism",
        CHEST_PAIN,
        requires=BREATHLESS,
    ),
    Rule(
        "severe_breathing_difficulty",
        "Cannot breathe or turning blue: possible respiratory failure",
        SEVERE_BREATHING,
    ),
    Rule(
        "stroke_signs",
        "Face droop, slurred speech or one-sided weakness: possible stroke (act FAST)",
        STROKE,
    ),
    Rule(
        "severe_bleeding",
        "Severe bleeding, vomiting or coughing up blood",
        SEVERE_BLEEDING,
    ),
    Rule(
        "anaphylaxis_throat",
        "Throat or tongue swelling: possible anaphylaxis",
        ANAPHYLAXIS_THROAT,
    ),
    Rule(
        "anaphylaxis_swelling_breathing",
        "Lip or face swelling with difficulty breathing: possible anaphylaxis",
        LIP_FACE_SWELLING,
        requires=BREATHLESS,
    ),
    Rule(
        "suicide_self_harm",
        "Suicidal thoughts or self-harm: needs immediate help",
        SUICIDE_SELF_HARM,
    ),
    Rule(
        "loss_of_consciousness",
        "Loss of consciousness, fainting or seizure",
        LOSS_OF_CONSCIOUSNESS,
    ),
    Rule(
        "stiff_neck_fever",
        "Stiff neck with fever: possible meningitis",
        STIFF_NECK,
        requires=FEVER,
    ),
)


def is_negated(text: str, start: int) -> bool:
    """Whether a negation cue precedes ``start`` within its clause and the last few words."""
    clause_start = 0
    for boundary in _CLAUSE_BOUNDARY.finditer(text, 0, start):
        clause_start = boundary.end()
    words = text[clause_start:start].split()
    recent = " ".join(words[-NEGATION_WINDOW_WORDS:])
    return _NEGATION.search(recent) is not None


def _affirmed_matches(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    return [match for match in pattern.finditer(text) if not is_negated(text, match.start())]


def find_red_flags(text: str) -> list[RedFlag]:
    """Every rule that fires on ``text`` (at most one flag per rule, at its first match)."""
    flags: list[RedFlag] = []
    for rule in RULES:
        matches = _affirmed_matches(rule.pattern, text)
        if not matches:
            continue
        reason = rule.reason
        if rule.requires is not None:
            companions = _affirmed_matches(rule.requires, text)
            companions = [m for m in companions if m.span() != matches[0].span()]
            if not companions:
                continue
            reason = f"{rule.reason} (with '{companions[0].group(0)}')"
        first = matches[0]
        flags.append(
            RedFlag(
                rule_id=rule.rule_id,
                reason=reason,
                matched_text=first.group(0),
                start=first.start(),
                end=first.end(),
            )
        )
    return flags


def triage_urgency(default: Urgency, flags: list[RedFlag] | tuple[RedFlag, ...]) -> Urgency:
    """The label's default urgency, raised to emergency by any red flag."""
    return most_urgent(default, "emergency") if flags else default
