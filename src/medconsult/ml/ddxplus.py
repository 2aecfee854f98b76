"""DDXPlus: the questionnaire, the 49 conditions and the patients, plus an English renderer.

Torch-free: the web process imports it for the structured intake interview.

Files (``data/ddxplus/``; Fansi Tchango et al., NeurIPS 2022 Datasets and Benchmarks, CC-BY 4.0):
``release_evidences.json`` (the questionnaire), ``release_conditions.json`` (the pathologies) and
``patients.csv`` (synthetic patients).

Public API (every type is a frozen dataclass):

- ``load_questionnaire(folder=None) -> Questionnaire``: the 223 evidences. ``Questionnaire``
  maps a name (``"E_54"``) to an ``Evidence``; ``Questionnaire.children(name)`` lists the
  follow-up questions asked only after a "yes" to ``name`` (pain ``E_53`` -> its character,
  location, intensity ...); ``Questionnaire.roots()`` the questions asked on their own.
- ``Evidence``: ``name``, ``question_en``, ``question_fr``, ``kind`` (``"binary"`` yes/no,
  ``"categorical"`` one value, ``"multiple"`` several values, ``"scale"`` an integer 0-10),
  ``data_type`` (the file's ``B``/``C``/``M``), ``parent`` (the question it follows up, or
  None), ``is_antecedent`` (history rather than a current symptom), ``values`` (the possible
  ``EvidenceValue`` s of categorical and multiple-choice questions, each with ``code``
  ``"V_179"``, ``en`` and ``fr`` meanings; empty otherwise), ``scale`` (``(low, high)`` for
  scales) and ``default`` (the value meaning "absent": ``0``/``False``, ``"V_11"`` NA,
  ``"V_123"`` nowhere, ``"V_10"`` no).
- ``load_conditions(folder=None) -> dict[str, Condition]``: the 49 pathologies by their DDXPlus
  name (``"Possible NSTEMI / STEMI"``). ``Condition``: ``name``, ``name_en``, ``name_fr``,
  ``icd10`` (a tuple of upper-case codes: ``"j17, j18"`` -> ``("J17", "J18")``), ``severity``
  (1 most severe ... 5).
- ``load_patients(folder=None, limit=None) -> list[Patient]``. ``Patient``: ``age``, ``sex``
  (``"M"``/``"F"``), ``pathology`` (DDXPlus name), ``evidences`` (an ``Answers`` dict, below),
  ``differential`` (the ground-truth differential: ``(name, probability)`` pairs from the
  ``top5_diagnoses`` column, best first) and ``initial_evidence`` (``feature_id``: the chief
  complaint the patient came with).
- ``Answers = dict[str, AnswerValue]``, ``AnswerValue = bool | int | str | list[str]``: a
  binary evidence -> ``True`` (present) or ``False`` (asked, answered no); a scale -> an ``int``;
  a categorical evidence -> one value code (``"V_157"``); a multiple-choice evidence -> a list
  of value codes. ``parse_features(features, questionnaire)`` turns the file's codes
  (``["E_53", "E_54_@_V_161", "E_56_@_7"]``) into it.
- ``render(answers, questionnaire, *, age=None, sex=None) -> str``: readable English, e.g.
  ``"Age 54, male. Pain: tender, burning; in the upper chest; radiating to the left shoulder;
  intensity 7/10. I have a fever (either felt or measured with a thermometer). ..."``. Pain, rash
  and swelling are summarised on one line each; other answers become first-person statements
  from their question; a ``False`` answer becomes ``"<question> No."``. Follows the
  questionnaire's order, so the same answers always give the same text.
  ``render_patient(patient, questionnaire)`` renders a ``Patient``.
- ``partial_answers(answers, questionnaire, rng, keep=(chief complaint,))``: a random subset
  of the answers (follow-ups with their question), as after a short interview; training adds
  such partial renderings so that the model is useful early in an interview.

The English value meanings of the release are machine translations of the French originals; a
few are corrected here (``VALUE_EN_FIXES``: "haunting" -> "shooting", "palace" -> "palate" ...).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from medconsult.ml.errors import DataFormatError

EvidenceKind = Literal["binary", "categorical", "multiple", "scale"]
AnswerValue = bool | int | str | list[str]
Answers = dict[str, AnswerValue]

_REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_FOLDER_RELATIVE = Path("data/ddxplus")

# Better English for the release's value meanings (the French is the original).
VALUE_EN_FIXES: dict[str, str] = {
    "V_71": "tearing",  # déchirante
    "V_112": "shooting",  # lancinante
    "V_154": "nagging",  # pénible
    "V_161": "tender",  # sensible
    "V_179": "stabbing",  # un coup de couteau
    "V_180": "pulling",  # un tiraillement
    "V_182": "cramping",  # une crampe
    "V_184": "throbbing",  # une pulsation
    "V_193": "sickening",  # écoeurante
    "V_196": "frightening",  # épeurante
    "V_137": "palate",  # palais
    "V_197": "epigastrium",  # épigastre
    "V_105": "hamstring(R)",  # ischio(D)
    "V_106": "hamstring(L)",  # ischio(G)
    "V_8": "the Caribbean",  # Caraibes
    "V_12": "yes",  # O(ui)
    "V_10": "no",  # N(on)
    "V_11": "not applicable",  # NA
}
# Value codes that mean "nothing" (not applicable, nowhere, no): never rendered as a finding.
NOT_APPLICABLE = "V_11"
ABSENT_VALUES = frozenset({NOT_APPLICABLE, "V_123", "V_10"})

PAIN, RASH, SWELLING, TRAVEL = "E_53", "E_129", "E_151", "E_204"


def default_folder() -> Path:
    """``data/ddxplus`` next to the source tree, else under the working directory."""
    for root in (_REPO_ROOT, Path.cwd()):
        candidate = root / DEFAULT_FOLDER_RELATIVE
        if (candidate / "release_evidences.json").is_file():
            return candidate
    return Path.cwd() / DEFAULT_FOLDER_RELATIVE


# --- questionnaire -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceValue:
    code: str
    en: str
    fr: str


@dataclass(frozen=True)
class Evidence:
    name: str
    question_en: str
    question_fr: str
    kind: EvidenceKind
    data_type: str
    parent: str | None
    is_antecedent: bool
    values: tuple[EvidenceValue, ...] = ()
    scale: tuple[int, int] | None = None
    default: bool | int | str | None = None

    def value(self, code: str) -> EvidenceValue:
        for value in self.values:
            if value.code == code:
                return value
        raise KeyError(f"{self.name} has no value {code!r}")

    @property
    def present_values(self) -> tuple[EvidenceValue, ...]:
        """The values that describe a finding (not NA / nowhere / no)."""
        return tuple(value for value in self.values if value.code not in ABSENT_VALUES)


@dataclass(frozen=True)
class Questionnaire:
    evidences: Mapping[str, Evidence]
    _children: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> Evidence:
        try:
            return self.evidences[name]
        except KeyError:
            raise KeyError(f"unknown DDXPlus evidence {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.evidences

    def __len__(self) -> int:
        return len(self.evidences)

    def children(self, name: str) -> tuple[str, ...]:
        """Follow-up questions of ``name``, asked only after a "yes" to it."""
        return tuple(self._children.get(name, ()))

    def roots(self) -> tuple[str, ...]:
        """Questions asked on their own (no parent)."""
        return tuple(name for name, evidence in self.evidences.items() if evidence.parent is None)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(f"data file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"unreadable {path}: {exc}") from exc


def parse_questionnaire(document: Mapping[str, Any]) -> Questionnaire:
    """Read a ``release_evidences.json`` document."""
    evidences: dict[str, Evidence] = {}
    children: dict[str, list[str]] = {}
    try:
        for name, entry in document.items():
            data_type = str(entry["data_type"])
            meanings = entry.get("value_meaning") or {}
            possible = list(entry.get("possible-values") or [])
            parent = str(entry.get("code_question") or name)
            values: tuple[EvidenceValue, ...] = ()
            scale: tuple[int, int] | None = None
            kind: EvidenceKind
            default: bool | int | str | None = entry.get("default_value")
            if data_type == "B":
                kind, default = "binary", False
            elif meanings:
                kind = "multiple" if data_type == "M" else "categorical"
                values = tuple(
                    EvidenceValue(
                        code=str(code),
                        en=VALUE_EN_FIXES.get(str(code), str(meanings[code]["en"])),
                        fr=str(meanings[code]["fr"]),
                    )
                    for code in (possible or list(meanings))
                )
            else:
                kind = "scale"
                numbers = [int(value) for value in possible]
                scale = (min(numbers), max(numbers))
                default = int(default or 0)
            evidences[str(name)] = Evidence(
                name=str(name),
                question_en=str(entry["question_en"]).strip(),
                question_fr=str(entry.get("question_fr", "")).strip(),
                kind=kind,
                data_type=data_type,
                parent=None if parent == name else parent,
                is_antecedent=bool(entry.get("is_antecedent", False)),
                values=values,
                scale=scale,
                default=default,
            )
            if parent != name:
                children.setdefault(parent, []).append(str(name))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(f"invalid DDXPlus questionnaire: {exc!r}") from exc
    return Questionnaire(evidences, {key: tuple(names) for key, names in children.items()})


@lru_cache(maxsize=4)
def _load_questionnaire(folder: Path) -> Questionnaire:
    return parse_questionnaire(_read_json(folder / "release_evidences.json"))


def load_questionnaire(folder: str | Path | None = None) -> Questionnaire:
    """The questionnaire of ``folder/release_evidences.json`` (cached per folder)."""
    return _load_questionnaire(Path(folder or default_folder()).resolve())


# --- conditions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    name: str
    name_en: str
    name_fr: str
    icd10: tuple[str, ...]
    severity: int


def split_icd10(raw: str) -> tuple[str, ...]:
    """``"j17, j18"`` -> ``("J17", "J18")``; ``"g44.009"`` -> ``("G44.009",)``."""
    return tuple(code.strip().upper() for code in re.split(r"[,;/]", raw) if code.strip())


@lru_cache(maxsize=4)
def _load_conditions(folder: Path) -> dict[str, Condition]:
    document = _read_json(folder / "release_conditions.json")
    try:
        return {
            str(name): Condition(
                name=str(name),
                name_en=str(entry["cond-name-eng"]),
                name_fr=str(entry["cond-name-fr"]),
                icd10=split_icd10(str(entry["icd10-id"])),
                severity=int(entry["severity"]),
            )
            for name, entry in document.items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(f"invalid DDXPlus conditions: {exc!r}") from exc


def load_conditions(folder: str | Path | None = None) -> dict[str, Condition]:
    """The pathologies of ``folder/release_conditions.json`` by DDXPlus name (a fresh dict)."""
    return dict(_load_conditions(Path(folder or default_folder()).resolve()))


# --- patients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Patient:
    age: int
    sex: str
    pathology: str
    evidences: Answers
    differential: tuple[tuple[str, float], ...]
    initial_evidence: str


def parse_features(features: Iterable[str], questionnaire: Questionnaire) -> Answers:
    """The file's evidence codes as answers: ``E_9`` -> ``True``, ``E_56_@_7`` -> ``7``,
    ``E_130_@_V_157`` -> ``"V_157"``, ``E_54_@_V_161`` + ``E_54_@_V_181`` -> a list."""
    answers: Answers = {}
    for feature in features:
        name, _, raw = str(feature).partition("_@_")
        evidence = questionnaire[name]
        if evidence.kind == "binary":
            answers[name] = True
        elif evidence.kind == "scale":
            answers[name] = int(raw)
        elif evidence.kind == "categorical":
            answers[name] = raw
        else:
            previous = answers.get(name)
            answers[name] = [*previous, raw] if isinstance(previous, list) else [raw]
    return answers


def _literal(text: str, what: str, where: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise DataFormatError(f"{where}: bad {what}") from exc


def load_patients(folder: str | Path | None = None, limit: int | None = None) -> list[Patient]:
    """Patients of ``folder/patients.csv`` (or a patients CSV path), in file order."""
    path = Path(folder or default_folder())
    csv_path = path if path.is_file() else path / "patients.csv"
    questionnaire = load_questionnaire(csv_path.parent)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFormatError(f"data file not found: {csv_path}") from None
    reader = csv.DictReader(io.StringIO(text))
    needed = {"age", "sex", "diagnosis", "features"}
    if not needed <= set(reader.fieldnames or []):
        raise DataFormatError(
            f"{csv_path} needs columns {', '.join(sorted(needed))} "
            f"(found: {', '.join(reader.fieldnames or []) or 'no header'})"
        )
    patients: list[Patient] = []
    for line_number, record in enumerate(reader, start=2):
        if limit is not None and len(patients) >= limit:
            break
        where = f"{csv_path} line {line_number}"
        try:
            evidences = parse_features(
                _literal(record["features"], "features", where), questionnaire
            )
        except KeyError as exc:
            raise DataFormatError(f"{where}: {exc.args[0]}") from None
        differential = tuple(
            (str(name), float(probability))
            for name, probability in _literal(record.get("top5_diagnoses") or "[]", "diff", where)
        )
        patients.append(
            Patient(
                age=int(record["age"]),
                sex=record["sex"].strip().upper(),
                pathology=record["diagnosis"].strip(),
                evidences=evidences,
                differential=tuple(sorted(differential, key=lambda item: -item[1])),
                initial_evidence=(record.get("feature_id") or "").strip(),
            )
        )
    if not patients:
        raise DataFormatError(f"{csv_path}: no data rows")
    return patients


# --- rendering ---------------------------------------------------------------------------------

# Question openings turned into first-person statements ("Do you have X?" -> "I have X.").
_STATEMENTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (
            r"^do you (have|feel|live|take|suffer|work|currently|regularly|constantly|suddenly"
            r"|wheeze|smoke|drink|consume|exercise|attend|find|think|ever)\b",
            r"I \1",
        ),
        (r"^have you ever\b", "I have"),
        (r"^have you\b", "I have"),
        (r"^are you\b", "I am"),
        (r"^are your\b", "my"),
        (r"^is your\b", "my"),
        (r"^do your symptoms\b", "my symptoms"),
        (r"^did you (have|lose|vomit)\b", r"I did \1"),
        (r"^were you born\b", "I was born"),
        (r"^did you previously, or do you currently, have\b", "I have or had"),
        (r"^does the person have\b", "I have"),
    )
)
_PRONOUNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bor do you\b", "or"),
        (r"\bor are you\b", "or I am"),
        (r"\bor have you ever\b", "or I have"),
        (r"\bor have you\b", "or I have"),
        (r"\bas you\b", "as me"),
        (r"\byou are\b", "I am"),
        (r"\bwere you\b", "was I"),
        (r"\byou were\b", "I was"),
        (r"\bhave you\b", "have I"),
        (r"\bdo you\b", "do I"),
        (r"\byourself\b", "myself"),
        (r"\byour\b", "my"),
        (r"\byou\b", "I"),
    )
)


def statement(question: str) -> str | None:
    """A yes/no question as the patient's own statement, or None when no rule fits."""
    text = question.strip().rstrip("?").strip()
    for pattern, replacement in _STATEMENTS:
        match = pattern.match(text)
        if match is None:
            continue
        head = match.expand(replacement)
        rest = text[match.end() :]
        for pronoun, swapped in _PRONOUNS:
            rest = pronoun.sub(swapped, rest)
        sentence = f"{head}{rest}"
        for past, simple in (
            (" did have", " had"),
            (" did lose", " lost"),
            (" did vomit", " vomited"),
        ):
            sentence = sentence.replace(past, simple)
        return sentence[0].upper() + sentence[1:] + "."
    return None


def _place(meaning: str) -> str:
    """``"iliac wing(R)"`` -> ``"right iliac wing"``."""
    match = re.match(r"^(.*?)\s*\((R|L)\)$", meaning)
    if match:
        side = "right" if match.group(2) == "R" else "left"
        return f"{side} {match.group(1).strip()}"
    return meaning


def _values(evidence: Evidence, answer: AnswerValue, *, place: bool = False) -> list[str]:
    codes = answer if isinstance(answer, list) else [str(answer)]
    meanings = []
    for code in codes:
        if code in ABSENT_VALUES:
            continue
        try:
            meaning = evidence.value(code).en
        except KeyError:
            meaning = code
        meanings.append(_place(meaning) if place else meaning)
    return meanings


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _answered(
    answers: Mapping[str, AnswerValue],
    questionnaire: Questionnaire,
    name: str,
    *,
    place: bool = False,
) -> list[str]:
    """The meanings of the answer to question ``name`` (none when it was not asked)."""
    if name not in answers:
        return []
    return _values(questionnaire[name], answers[name], place=place)


def _scales(answers: Mapping[str, AnswerValue], labels: Sequence[tuple[str, str]]) -> list[str]:
    """``"intensity 7/10"`` for each answered scale question of ``labels`` (name, label)."""
    parts = []
    for name, label in labels:
        value = answers.get(name)
        if value is not None and not isinstance(value, (bool, list, str)):
            parts.append(f"{label} {value}/10")
    return parts


def _group_line(
    title: str, parent: str, parts: list[str], answers: Mapping[str, AnswerValue]
) -> str | None:
    """``"Pain: tender; in the forehead."``; None when neither the parent question nor any
    finding of its follow-ups was answered (follow-ups at their "absent" defaults only)."""
    if parent not in answers and not any(not part.endswith(" 0/10") for part in parts):
        return None
    return f"{title}: " + ("; ".join(parts) if parts else "yes") + "."


def _pain(answers: Mapping[str, AnswerValue], questionnaire: Questionnaire) -> str | None:
    if answers.get(PAIN) is False:
        return "Pain: no."
    parts: list[str] = []
    if character := _answered(answers, questionnaire, "E_54"):
        parts.append(", ".join(character))
    if places := _answered(answers, questionnaire, "E_55", place=True):
        parts.append("in the " + _join(places))
    if places := _answered(answers, questionnaire, "E_57", place=True):
        parts.append("radiating to the " + _join(places))
    parts += _scales(
        answers, (("E_56", "intensity"), ("E_58", "precisely located"), ("E_59", "sudden onset"))
    )
    return _group_line("Pain", PAIN, parts, answers)


def _rash(answers: Mapping[str, AnswerValue], questionnaire: Questionnaire) -> str | None:
    if answers.get(RASH) is False:
        return "Rash or skin lesions: no."
    parts: list[str] = []
    if colour := _answered(answers, questionnaire, "E_130"):
        parts.append(_join(colour))
    if places := _answered(answers, questionnaire, "E_133", place=True):
        parts.append("on the " + _join(places))
    if answers.get("E_135") == "V_12":
        parts.append("larger than 1 cm")
    if answers.get("E_131") == "V_12":
        parts.append("peeling")
    parts += _scales(answers, (("E_134", "pain"), ("E_136", "itching"), ("E_132", "swelling")))
    return _group_line("Rash or skin lesions", RASH, parts, answers)


def _swelling(answers: Mapping[str, AnswerValue], questionnaire: Questionnaire) -> str | None:
    if answers.get(SWELLING) is False:
        return "Swelling: no."
    places = _answered(answers, questionnaire, "E_152", place=True)
    return _group_line("Swelling", SWELLING, ["in the " + _join(places)] if places else [], answers)


_GROUPS = {PAIN: _pain, RASH: _rash, SWELLING: _swelling}


def _sex_word(sex: str | None) -> str | None:
    if sex is None:
        return None
    return {"M": "male", "F": "female"}.get(sex.strip().upper(), sex)


def render(
    answers: Mapping[str, AnswerValue],
    questionnaire: Questionnaire,
    *,
    age: int | None = None,
    sex: str | None = None,
) -> str:
    """Readable English for structured answers (see the module docstring)."""
    sentences: list[str] = []
    header = [part for part in (f"Age {age}" if age is not None else None, _sex_word(sex)) if part]
    if header:
        sentences.append(", ".join(header) + ".")
    for name, evidence in questionnaire.evidences.items():
        if name not in answers and name not in _GROUPS:
            continue
        if evidence.parent in _GROUPS:
            continue  # rendered with its group
        if name in _GROUPS:
            rendered = _GROUPS[name](answers, questionnaire)
            if rendered:
                sentences.append(rendered)
            continue
        answer = answers[name]
        if evidence.kind == "binary":
            if answer is True:
                sentences.append(statement(evidence.question_en) or f"{evidence.question_en} Yes.")
            elif answer is False:
                sentences.append(f"{evidence.question_en} No.")
        elif name == TRAVEL:
            places = _values(evidence, answer)
            sentences.append(
                "Travelled out of the country in the last 4 weeks: "
                + (_join(places) if places else "no")
                + "."
            )
        elif evidence.kind == "scale":
            sentences.append(f"{evidence.question_en} {answer}/10.")
        else:
            meanings = _values(evidence, answer, place=True)
            sentences.append(f"{evidence.question_en} {_join(meanings) or 'No'}.")
    return " ".join(sentences)


def render_patient(patient: Patient, questionnaire: Questionnaire | None = None) -> str:
    """A patient's answers with age and sex as readable English."""
    return render(
        patient.evidences,
        questionnaire or load_questionnaire(),
        age=patient.age,
        sex=patient.sex,
    )


def partial_answers(
    answers: Mapping[str, AnswerValue],
    questionnaire: Questionnaire,
    rng: random.Random,
    *,
    keep: Iterable[str] = (),
    fraction: float | None = None,
) -> Answers:
    """A random subset of a patient's answers, as after a short interview.

    Each answered question (a follow-up always with its parent question) is kept with
    probability ``fraction`` (drawn uniformly from [0.1, 0.7] when None); the questions in
    ``keep`` (the chief complaint) always stay. Used to train on partial renderings so that the
    classifier gives sensible differentials after only a few interview answers.
    """
    share = rng.uniform(0.1, 0.7) if fraction is None else fraction

    def root(name: str) -> str:
        parent = questionnaire[name].parent
        return parent if parent is not None and parent in answers else name

    roots = list(dict.fromkeys(root(name) for name in answers))
    kept = set(keep) | {name for name in roots if rng.random() < share}
    return {name: value for name, value in answers.items() if root(name) in kept}
