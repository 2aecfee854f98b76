"""The intake interview's next-question engine: a naive-Bayes evidence model over conditions and
questions, the posterior after each answer, and the question with the largest expected
information gain over the leading candidates.

Torch-free (numpy only) and fast enough to run in the web process: one choice over the whole
DDXPlus questionnaire takes about a millisecond (``benchmarks/interview.py``).

Model. For a condition ``c`` and a question ``q`` the answer ``a`` has a likelihood
``P(a | c)``: a categorical distribution over the answer's values for yes/no, single-choice and
0-10 scale questions, and one independent yes/no per value for multiple-choice questions. The
answers are independent given the condition (naive Bayes), so the posterior after answers
``a_1..a_n`` is ``prior(c) * prod_i P(a_i | c)``, renormalised. "Don't know" leaves it unchanged.

Question choice. Among the questions that may be asked now (not yet asked; a follow-up only
after its parent question was answered yes), the engine takes the one with the largest expected
information gain ``I(C; A) = H(A) - H(A | C)`` over the ``top_k`` most probable conditions
(their posterior renormalised): the question whose answer is expected to separate the leading
candidates best. ``H(A)`` of a multiple-choice question (one yes/no per value) is estimated from
a fixed set of samples of the answer; every other term is exact. The first question is the
opening question that the patient's own words name (``named``; of several, the one with the
largest gain), whatever its gain: a DDXPlus interview, too, starts from the patient's chief
complaint, and its follow-ups carry what the complaint alone does not.

Stopping. The interview stops when the top posterior reaches ``stop_probability``, when no
question is expected to gain ``min_gain_bits`` or more, when ``max_questions`` have been asked,
or when nothing is left to ask.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
QuestionKind = Literal["binary", "single", "multiple", "scale"]
QUESTION_KINDS: tuple[QuestionKind, ...] = ("binary", "single", "multiple", "scale")
YES = "yes"
NO = "no"
StopReason = Literal["settled", "low_gain", "max_questions", "exhausted", "patient"]

# Smoothing of the estimated likelihoods (pseudo-counts and their base rates).
PSEUDO_COUNT = 2.0  # strength of the base rate, in patients
TYPICAL_RATE = 0.5  # P(yes) before data for an evidence the condition lists as typical
ATYPICAL_RATE = 0.005  # ... and for one it does not list (DDXPlus never generates those)
PROBABILITY_FLOOR = 1e-4  # no answer is ever impossible: a patient may err
MULTIPLE_SAMPLES = 64  # samples of a multiple-choice answer when estimating its entropy


@dataclass(frozen=True)
class Question:
    """One question of the interview, as the engine sees it.

    ``values``: ``("no", "yes")`` for binary questions, ``("0", ..., "10")`` for scales, the
    questionnaire's value codes for single and multiple choice. ``default``: the value that
    means "none"/"not present" (multiple choice: the value recorded when nothing is ticked).
    ``parent``: a yes/no question that must be answered yes before this one is asked.
    """

    code: str
    kind: QuestionKind
    values: tuple[str, ...]
    default: str
    parent: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in QUESTION_KINDS:
            raise ValueError(f"{self.code}: unknown question kind {self.kind!r}")
        if self.default not in self.values:
            raise ValueError(f"{self.code}: default {self.default!r} is not one of its values")


@dataclass(frozen=True)
class Answer:
    """A patient's answer: ``values`` chosen (one for binary, single and scale questions; any
    number for multiple choice, none meaning "none of these"), or ``unknown`` ("don't know")."""

    code: str
    values: tuple[str, ...] = ()
    unknown: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "values": list(self.values), "unknown": self.unknown}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            code=str(data["code"]),
            values=tuple(str(v) for v in data.get("values", ())),
            unknown=bool(data.get("unknown", False)),
        )

    @property
    def is_yes(self) -> bool:
        return not self.unknown and self.values == (YES,)


@dataclass(frozen=True)
class Decision:
    """What to do after the answers so far: the next question, or why to stop."""

    posterior: FloatArray
    question: Question | None
    gain_bits: float
    stop_reason: StopReason | None


@dataclass
class EvidenceModel:
    """``P(answer | condition)`` for every question, plus the conditions' base rates.

    ``tables[code]`` has shape ``(len(conditions), len(question.values))``: rows are categorical
    distributions for binary, single and scale questions, and per-value probabilities of being
    ticked for multiple-choice questions.
    """

    conditions: tuple[str, ...]
    questions: tuple[Question, ...]
    tables: dict[str, FloatArray]
    class_prior: FloatArray
    # Questions that may open an interview when nothing else is known (DDXPlus's initial
    # evidences: what patients came in with).
    openers: frozenset[str] = frozenset()
    by_code: dict[str, Question] = field(init=False, repr=False)
    _log_tables: dict[str, FloatArray] = field(init=False, repr=False)
    _log_not: dict[str, FloatArray] = field(init=False, repr=False)
    _cond_entropy: dict[str, FloatArray] = field(init=False, repr=False)
    # Every single-answer question's table in one padded array (questions, conditions, values),
    # so that their gains are computed together: padding has probability 0 and adds nothing.
    _stacked: FloatArray = field(init=False, repr=False)
    _stacked_entropy: FloatArray = field(init=False, repr=False)
    _stacked_row: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_code = {q.code: q for q in self.questions}
        n = len(self.conditions)
        self._log_tables, self._log_not, self._cond_entropy = {}, {}, {}
        for question in self.questions:
            table = self.tables[question.code]
            if table.shape != (n, len(question.values)):
                raise ValueError(f"{question.code}: table shape {table.shape}")
            self._log_tables[question.code] = np.log(table)
            if question.kind == "multiple":
                self._log_not[question.code] = np.log1p(-table)
                self._cond_entropy[question.code] = _bernoulli_entropy(table).sum(axis=1)
            else:
                self._cond_entropy[question.code] = -(table * np.log2(table)).sum(axis=1)
        single = [q for q in self.questions if q.kind != "multiple"]
        width = max((len(q.values) for q in single), default=1)
        self._stacked = np.zeros((len(single), n, width))
        self._stacked_entropy = np.zeros((len(single), n))
        self._stacked_row = {}
        for row, question in enumerate(single):
            self._stacked[row, :, : len(question.values)] = self.tables[question.code]
            self._stacked_entropy[row] = self._cond_entropy[question.code]
            self._stacked_row[question.code] = row

    # --- posterior ------------------------------------------------------------------------

    def index_of(self, condition: str) -> int:
        return self.conditions.index(condition)

    def log_likelihood(self, answer: Answer) -> FloatArray:
        """``log P(answer | c)`` for every condition (zeros for "don't know" or unknown codes)."""
        question = self.by_code.get(answer.code)
        if question is None or answer.unknown:
            return np.zeros(len(self.conditions))
        chosen = [question.values.index(v) for v in answer.values if v in question.values]
        if question.kind == "multiple":
            ticked = np.zeros(len(question.values), dtype=bool)
            ticked[chosen or [question.values.index(question.default)]] = True
            log_yes, log_no = self._log_tables[answer.code], self._log_not[answer.code]
            result: FloatArray = np.where(ticked, log_yes, log_no).sum(axis=1)
            return result
        if len(chosen) != 1:
            return np.zeros(len(self.conditions))
        column: FloatArray = self._log_tables[answer.code][:, chosen[0]]
        return column

    def posterior(self, prior: FloatArray, answers: Iterable[Answer]) -> FloatArray:
        """The posterior over conditions after ``answers``, starting from ``prior``."""
        log_post = np.log(np.maximum(prior, 1e-300))
        for answer in answers:
            log_post = log_post + self.log_likelihood(answer)
        log_post -= log_post.max()
        post = np.exp(log_post)
        normalised: FloatArray = post / post.sum()
        return normalised

    # --- question choice --------------------------------------------------------------------

    def eligible(self, answers: Sequence[Answer], *, openers_only: bool = False) -> list[Question]:
        """Questions that may be asked now: not yet answered, parent (if any) answered yes."""
        answered = {a.code: a for a in answers}
        found = []
        for question in self.questions:
            if question.code in answered:
                continue
            if openers_only and question.code not in self.openers:
                continue
            if question.parent is not None and question.parent in self.by_code:
                parent = answered.get(question.parent)
                if parent is None or not parent.is_yes:
                    continue
            found.append(question)
        return found

    def expected_gains(
        self, posterior: FloatArray, questions: Sequence[Question], *, top_k: int
    ) -> FloatArray:
        """Expected information gain (bits) of each question over the ``top_k`` candidates."""
        top = np.argsort(-posterior, kind="stable")[:top_k]
        weights = posterior[top] / posterior[top].sum()
        gains = np.zeros(len(questions))
        single = [i for i, q in enumerate(questions) if q.kind != "multiple"]
        if single:
            rows = [self._stacked_row[questions[i].code] for i in single]
            tables = self._stacked[rows][:, top, :]  # (questions, candidates, values)
            mixture = np.einsum("k,qkv->qv", weights, tables)
            safe = np.where(mixture > 0, mixture, 1.0)
            marginal = -(mixture * np.log2(safe)).sum(axis=1)
            conditional = self._stacked_entropy[rows][:, top] @ weights
            gains[single] = np.maximum(0.0, marginal - conditional)
        for i, question in enumerate(questions):
            if question.kind != "multiple":
                continue
            table = self.tables[question.code][top]
            conditional_m = float(weights @ self._cond_entropy[question.code][top])
            sampled = self._sampled_entropy(
                table,
                self._log_tables[question.code][top],
                self._log_not[question.code][top],
                weights,
            )
            gains[i] = max(0.0, sampled - conditional_m)
        return gains

    @staticmethod
    def _sampled_entropy(
        table: FloatArray, log_yes: FloatArray, log_no: FloatArray, weights: FloatArray
    ) -> float:
        """Entropy (bits) of a multiple-choice answer under the mixture of candidates, from
        a fixed set of sampled answers (so the same inputs always give the same choice)."""
        rng = np.random.default_rng(0)
        k = len(weights)
        component = rng.choice(k, size=MULTIPLE_SAMPLES, p=weights)
        ticks = rng.random((MULTIPLE_SAMPLES, table.shape[1])) < table[component]
        # log P(sample | c) for every candidate c: (samples, candidates).
        log_p = ticks.astype(np.float64) @ (log_yes - log_no).T + log_no.sum(axis=1)[None]
        log_mix = np.log(weights)[None] + log_p
        peak = log_mix.max(axis=1, keepdims=True)
        log_marginal = peak[:, 0] + np.log(np.exp(log_mix - peak).sum(axis=1))
        return float(-log_marginal.mean() / math.log(2))

    def decide(
        self,
        prior: FloatArray,
        answers: Sequence[Answer],
        *,
        max_questions: int,
        stop_probability: float,
        min_gain_bits: float,
        top_k: int,
        openers_first: bool = False,
        asked: int | None = None,
        named: Collection[str] = (),
    ) -> Decision:
        """The posterior after ``answers`` and the next question, or the reason to stop.

        ``asked``: how many questions count against ``max_questions`` (default: the answers).
        ``openers_first``: with no answer yet, choose among the opening questions only.
        ``named``: opening questions the patient's own words name (``complaints``); with no
        answer yet, the first question is the one of them with the largest gain.
        """
        posterior = self.posterior(prior, answers)
        count = len(answers) if asked is None else asked
        if count >= max_questions:
            return Decision(posterior, None, 0.0, "max_questions")
        if float(posterior.max()) >= stop_probability:
            return Decision(posterior, None, 0.0, "settled")
        openers = self.eligible(answers, openers_only=True) if not answers else []
        complaint = [question for question in openers if question.code in named]
        if complaint:
            # The patient's own complaint opens the interview even where its answer alone
            # separates little (nearly every condition has "pain"): it opens the follow-ups
            # (site, character, intensity) that a one-step gain cannot see.
            gains = self.expected_gains(posterior, complaint, top_k=top_k)
            best = int(np.argmax(gains))
            return Decision(posterior, complaint[best], float(gains[best]), None)
        # With nothing known yet, an opening question (a chief complaint) if one is worth
        # asking; otherwise, and afterwards, any question that may be asked now.
        pools = [openers] if openers_first and openers else []
        pools.append(self.eligible(answers))
        best_gain, best_question = 0.0, None
        for candidates in pools:
            if not candidates:
                continue
            gains = self.expected_gains(posterior, candidates, top_k=top_k)
            best = int(np.argmax(gains))
            best_gain, best_question = float(gains[best]), candidates[best]
            if best_gain >= min_gain_bits:
                return Decision(posterior, best_question, best_gain, None)
        if best_question is None:
            return Decision(posterior, None, 0.0, "exhausted")
        return Decision(posterior, None, best_gain, "low_gain")

    def ranked(self, posterior: FloatArray, k: int) -> list[tuple[str, float]]:
        """The ``k`` most probable conditions with their posterior probabilities."""
        order = np.argsort(-posterior, kind="stable")[:k]
        return [(self.conditions[i], float(posterior[i])) for i in order]


def _bernoulli_entropy(p: FloatArray) -> FloatArray:
    result: FloatArray = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return result


# --- fitting -------------------------------------------------------------------------------

# A training patient: their condition and their evidences, code -> values present (yes/no
# questions answered yes: ``("yes",)``). Questions they do not list take their default value.
Evidences = Mapping[str, Sequence[str]]


def fit(
    questions: Sequence[Question],
    rows: Iterable[tuple[str, Evidences]],
    *,
    conditions: Sequence[str],
    typical: Mapping[str, Iterable[str]] | None = None,
    openers: Iterable[str] = (),
) -> EvidenceModel:
    """Estimate the evidence model from training patients, smoothed toward each condition's
    typical evidences (``typical[condition]``: question codes) where data are few.

    A follow-up question is estimated from the patients whose parent answer was yes (the only
    ones who are asked it). Scale answers are smoothed over neighbouring values.
    """
    index = {name: i for i, name in enumerate(conditions)}
    n_cond = len(conditions)
    typical_sets = {name: set(codes) for name, codes in (typical or {}).items()}
    counts = {q.code: np.zeros((n_cond, len(q.values))) for q in questions}
    applicable = {q.code: np.zeros(n_cond) for q in questions}
    class_counts = np.zeros(n_cond)
    codes = {q.code for q in questions}
    for condition, evidences in rows:
        c = index.get(condition)
        if c is None:
            continue
        class_counts[c] += 1
        for question in questions:
            parent = question.parent
            if parent is not None and parent in codes and YES not in evidences.get(parent, ()):
                continue
            applicable[question.code][c] += 1
            present = [v for v in evidences.get(question.code, ()) if v in question.values]
            if question.kind == "binary":
                present = [YES if question.code in evidences else NO]
            elif not present:
                present = [question.default]
            for value in present[:1] if question.kind != "multiple" else present:
                counts[question.code][c, question.values.index(value)] += 1

    tables: dict[str, FloatArray] = {}
    for question in questions:
        table = np.zeros((n_cond, len(question.values)))
        total = counts[question.code].sum(axis=0)
        global_rate = (total + 0.5) / (applicable[question.code].sum() + 0.5 * len(question.values))
        for name, c in index.items():
            is_typical = question.code in typical_sets.get(name, ()) or not typical_sets
            table[c] = _smoothed_row(
                question,
                counts[question.code][c],
                applicable[question.code][c],
                typical=is_typical,
                global_rate=global_rate,
            )
        tables[question.code] = np.clip(table, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
        if question.kind != "multiple":
            tables[question.code] /= tables[question.code].sum(axis=1, keepdims=True)
    prior = (class_counts + 1.0) / (class_counts.sum() + n_cond)
    return EvidenceModel(
        conditions=tuple(conditions),
        questions=tuple(questions),
        tables=tables,
        class_prior=prior,
        openers=frozenset(openers),
    )


def _smoothed_row(
    question: Question, counts: FloatArray, n: float, *, typical: bool, global_rate: FloatArray
) -> FloatArray:
    """One condition's answer distribution: counts plus ``PSEUDO_COUNT`` patients' worth of a
    base rate (typical: what patients in general answer; atypical: nearly always the default)."""
    width = len(question.values)
    default = np.zeros(width)
    default[question.values.index(question.default)] = 1.0
    if question.kind == "multiple":
        base = global_rate.clip(0, 1) if typical else global_rate.clip(0, 1) * ATYPICAL_RATE
        base = base + default * (1 - base) * (0.0 if typical else 1.0)
        rate: FloatArray = (counts + PSEUDO_COUNT * base) / (n + PSEUDO_COUNT)
        return rate
    if question.kind == "binary":
        p_yes = TYPICAL_RATE if typical else ATYPICAL_RATE
        base = np.array([1 - p_yes, p_yes])
    elif typical:
        base = global_rate / global_rate.sum()
    else:
        base = (1 - ATYPICAL_RATE) * default + ATYPICAL_RATE / width
    if question.kind == "scale" and counts.sum() > 0:
        counts = np.convolve(counts, [0.2, 0.6, 0.2], mode="same")
    distribution: FloatArray = (counts + PSEUDO_COUNT * base) / (counts.sum() + PSEUDO_COUNT)
    return distribution
