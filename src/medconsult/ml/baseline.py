"""TF-IDF + logistic-regression baseline, trained on the same split as the model (torch-free),
and the TF-IDF half of the hybrid classifier.

The benchmark is nearly saturated (about 97-98% for this baseline), so every report of the
fine-tuned model carries this baseline's numbers from the same run for comparison.

The hybrid (``hybrid_logits``): the weighted mean of the transformer's probabilities
(temperature 1) and this model's, as log-probabilities that calibration then treats like logits.
The hybrid's half reads character 2-5-grams within words besides the word n-grams
(``features="word+char"``, ``options.DEFAULT_LEXICAL_FEATURES``); the comparison baseline reads
words only. Chosen by the cross-validation of ``medconsult cv`` (README, "DDXPlus and the
differential"). For serving, the fitted pipeline becomes a ``TfidfScorer``: its vocabulary, idf
weights and the regression's coefficients as arrays (``arrays.py``; no pickle), applied with
numpy exactly as scikit-learn's ``predict_proba`` (``tests/ml/test_baseline.py``), so neither
scikit-learn nor a pickle is needed where the model is served.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from medconsult.ml.arrays import PartFormat, load_part, save_part
from medconsult.ml.errors import ArtifactError
from medconsult.ml.metrics import FloatArray, softmax

# Word uni+bigrams with sublinear tf, weakly regularised LR (C=10): a strong, standard setup.
BASELINE_C = 10.0
BASELINE_NGRAMS = (1, 2)
# scikit-learn's default word tokens (two or more word characters), lower-cased first.
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")
# "word+char" adds character n-grams within whitespace-separated chunks, each chunk padded with
# a space on either side (scikit-learn's ``char_wb``), as a second L2-normalised block.
CHAR_NGRAMS = (2, 5)
FEATURES = ("word", "word+char")

FILE_NAME = "tfidf.json"
ARRAYS_NAME = "tfidf.npz"
FORMAT = "medconsult-tfidf-logreg"
# Version 2 added the character block (``char_terms``, ``char_idf``); version 1 files (words
# only) are still read.
FORMAT_VERSION = 2
_ARRAY_NAMES = ("terms", "idf", "coef", "intercept", "classes", "char_terms", "char_idf")
TFIDF_PART = PartFormat(
    FILE_NAME,
    ARRAYS_NAME,
    FORMAT,
    FORMAT_VERSION,
    _ARRAY_NAMES,
    "TF-IDF",
    older=(1,),
    optional_arrays=("char_terms", "char_idf"),
)


def char_grams(chunk: str) -> list[tuple[str, int]]:
    """The character n-grams of one whitespace-free ``chunk`` with their start in the padded
    chunk (" " + chunk + " "), in scikit-learn's ``char_wb`` order: for each n, every window;
    a padded chunk no longer than n gives itself once and ends the longer n."""
    padded = f" {chunk} "
    grams: list[tuple[str, int]] = []
    for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
        grams += [(padded[i : i + n], i) for i in range(max(1, len(padded) - n + 1))]
        if len(padded) <= n:
            break
    return grams


def _block(
    grams: Sequence[str], columns: dict[str, int], idf: NDArray[np.float64], offset: int
) -> tuple[list[int], NDArray[np.float64]]:
    """One block's TF-IDF vector as (columns, values): sublinear term frequency times idf,
    L2-normalised; grams outside the vocabulary ignored."""
    counts = Counter(gram for gram in grams if gram in columns)
    values = np.array(
        [(1.0 + math.log(count)) * idf[columns[gram] - offset] for gram, count in counts.items()],
        dtype=np.float64,
    )
    norm = float(np.sqrt(np.sum(values * values)))
    return [columns[gram] for gram in counts], values / norm if norm > 0 else values


def _vocabulary(vectorizer: object) -> tuple[str, ...]:
    vocabulary: dict[str, int] = vectorizer.vocabulary_  # type: ignore[attr-defined]
    return tuple(sorted(vocabulary, key=vocabulary.__getitem__))


class TfidfBaseline:
    def __init__(self, n_classes: int, features: str = "word") -> None:
        # scikit-learn only where a model is fitted: serving reads a ``TfidfScorer``.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        if features not in FEATURES:
            raise ValueError(f"features: one of {', '.join(FEATURES)}, not {features!r}")
        self.n_classes = n_classes
        self.features = features
        words = TfidfVectorizer(ngram_range=BASELINE_NGRAMS, sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True)
        self.pipeline = Pipeline(
            [
                (
                    "tfidf",
                    words
                    if features == "word"
                    else FeatureUnion([("word", words), ("char", chars)]),
                ),
                ("lr", LogisticRegression(C=BASELINE_C, max_iter=5000)),
            ]
        )

    def fit(self, texts: Sequence[str], targets: Sequence[int]) -> TfidfBaseline:
        self.pipeline.fit(list(texts), list(targets))
        return self

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Probabilities over all ``n_classes`` (zero for classes absent from training)."""
        partial = self.pipeline.predict_proba(list(texts))
        probs = np.zeros((len(texts), self.n_classes), dtype=np.float64)
        probs[:, self.pipeline.classes_] = partial
        return probs

    def scorer(self, transformer_weight: float = 0.5) -> TfidfScorer:
        """The fitted model as arrays, for serving (see the module docstring), to join a hybrid
        with ``transformer_weight`` (``hybrid_logits``)."""
        vectors = self.pipeline.named_steps["tfidf"]
        blocks = dict(vectors.transformer_list) if self.features == "word+char" else {}
        words, chars = blocks.get("word", vectors), blocks.get("char")
        regression = self.pipeline.named_steps["lr"]
        coef = np.asarray(regression.coef_, dtype=np.float64)
        intercept = np.asarray(regression.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:
            # Two classes: scikit-learn keeps one row z for the second, P = sigmoid(z);
            # softmax over (-z/2, z/2) gives the same.
            coef = np.vstack([-coef, coef]) / 2
            intercept = np.concatenate([-intercept, intercept]) / 2
        return TfidfScorer(
            terms=_vocabulary(words),
            idf=np.asarray(words.idf_, dtype=np.float64),
            coef=coef,
            intercept=intercept,
            classes=np.asarray(regression.classes_, dtype=np.int64),
            n_classes=self.n_classes,
            char_terms=_vocabulary(chars) if chars is not None else (),
            char_idf=np.asarray(chars.idf_ if chars is not None else (), dtype=np.float64),
            transformer_weight=transformer_weight,
        )


@dataclass(frozen=True, eq=False)
class TfidfScorer:
    """A fitted ``TfidfBaseline`` as arrays: ``predict_proba`` with numpy alone. The columns of
    ``coef`` are the word terms, then the character terms (none for "word" features)."""

    terms: tuple[str, ...]
    idf: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    classes: NDArray[np.int64]
    n_classes: int
    char_terms: tuple[str, ...] = ()
    char_idf: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    # The transformer's weight in the hybrid this model is half of (``hybrid_logits``).
    transformer_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.transformer_weight <= 1.0:
            raise ArtifactError(
                f"hybrid transformer weight {self.transformer_weight} outside [0, 1]"
            )
        terms, char_terms, coef = self.terms, self.char_terms, self.coef
        if not (
            len(terms) == len(self.idf)
            and len(char_terms) == len(self.char_idf)
            and len(terms) + len(char_terms) == coef.shape[1]
            and coef.shape[0] == len(self.intercept) == len(self.classes)
        ):
            raise ArtifactError(
                f"TF-IDF arrays do not fit together: {len(terms)} terms, {len(self.idf)} idf "
                f"weights, {len(char_terms)} character terms, {len(self.char_idf)} idf weights, "
                f"coefficients {coef.shape}, {len(self.intercept)} intercepts, "
                f"{len(self.classes)} classes"
            )
        classes = self.classes
        if len(classes) and (classes.min() < 0 or classes.max() >= self.n_classes):
            raise ArtifactError(f"TF-IDF classes outside 0..{self.n_classes - 1}")

    @cached_property
    def columns(self) -> dict[str, int]:
        return {term: column for column, term in enumerate(self.terms)}

    @cached_property
    def char_columns(self) -> dict[str, int]:
        return {term: len(self.terms) + column for column, term in enumerate(self.char_terms)}

    @property
    def features(self) -> str:
        return "word+char" if self.char_terms else "word"

    def _features(self, text: str) -> tuple[list[int], NDArray[np.float64]]:
        """The text's TF-IDF vector as (columns, values): word uni- and bigrams of the
        lower-cased text, then (with character terms) its character n-grams, each block
        sublinear term frequency times idf, L2-normalised on its own."""
        lowered = text.lower()
        tokens = TOKEN_PATTERN.findall(lowered)
        grams = list(tokens)
        for n in range(2, BASELINE_NGRAMS[1] + 1):
            grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        columns, values = _block(grams, self.columns, self.idf, 0)
        if self.char_terms:
            chars = [gram for chunk in lowered.split() for gram, _ in char_grams(chunk)]
            char_columns, char_values = _block(
                chars, self.char_columns, self.char_idf, len(self.terms)
            )
            columns, values = columns + char_columns, np.concatenate([values, char_values])
        return columns, values

    def word_contributions(self, text: str, label: int) -> dict[tuple[int, int], float]:
        """Per word span of ``text``, its part in this model's log-probability of ``label``:
        gradient x input of log P(label) with respect to the TF-IDF features, each term's
        share split evenly over its occurrences (a bigram's over its two words, a character
        n-gram's over the words it overlaps; one that overlaps no word, such as ", ", counts
        for none). Empty when the model never saw ``label``."""
        position = np.flatnonzero(self.classes == label)
        columns, values = self._features(text)
        if not len(position) or not columns:
            return {}
        weights = self.coef[:, columns]
        probs = softmax((weights @ values + self.intercept)[None, :])[0]
        # d log P(c) / d x_t = coef[c, t] - sum_k P(k) coef[k, t]; times x_t.
        per_term = values * (weights[int(position[0])] - probs @ weights)
        # Keys tell the blocks apart: a word term and a character term may be the same string.
        names = [
            ("word", self.terms[c])
            if c < len(self.terms)
            else ("char", self.char_terms[c - len(self.terms)])
            for c in columns
        ]
        contribution = dict(zip(names, per_term, strict=True))
        lowered = text.lower()
        # Spans in ``text``: lower-casing keeps every length but for a few letters (then the
        # original is read, which may split such a rare word differently).
        source = lowered if len(lowered) == len(text) else text
        tokens = [(m.group().lower(), m.span()) for m in TOKEN_PATTERN.finditer(source)]
        occurrences: dict[tuple[str, str], list[list[tuple[int, int]]]] = defaultdict(list)
        for index, (token, span) in enumerate(tokens):
            occurrences["word", token].append([span])
            for n in range(2, BASELINE_NGRAMS[1] + 1):
                if index + n <= len(tokens):
                    gram = " ".join(word for word, _ in tokens[index : index + n])
                    occurrences["word", gram].append(
                        [span for _, span in tokens[index : index + n]]
                    )
        if self.char_terms:
            for chunk in re.finditer(r"\S+", source):
                for gram, start in char_grams(chunk.group().lower()):
                    # The gram covers [start - 1, start - 1 + len) of the chunk (the padding
                    # space before it is position -1).
                    first = chunk.start() + start - 1
                    last = first + len(gram)
                    occurrences["char", gram].append(
                        [span for _, span in tokens if span[0] < last and first < span[1]]
                    )
        scores: dict[tuple[int, int], float] = defaultdict(float)
        for term, share in contribution.items():
            places = occurrences.get(term, [])
            for spans in places:
                for span in spans:
                    scores[span] += float(share) / (len(places) * len(spans))
        return dict(scores)

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Probabilities over all ``n_classes`` (zero for classes absent from training)."""
        probs = np.zeros((len(texts), self.n_classes), dtype=np.float64)
        for row, text in enumerate(texts):
            columns, values = self._features(text)
            scores = self.coef[:, columns] @ values + self.intercept
            probs[row, self.classes] = softmax(scores[None, :])[0]
        return probs

    def save(self, directory: Path) -> None:
        save_part(
            directory,
            TFIDF_PART,
            arrays={
                "terms": np.array(self.terms, dtype=np.str_),
                "idf": self.idf,
                "coef": self.coef,
                "intercept": self.intercept,
                "classes": self.classes,
                "char_terms": np.array(self.char_terms, dtype=np.str_),
                "char_idf": self.char_idf,
            },
            document={
                "n_classes": self.n_classes,
                "features": self.features,
                "n_terms": len(self.terms),
                "ngram_range": list(BASELINE_NGRAMS),
                "token_pattern": TOKEN_PATTERN.pattern,
                "n_char_terms": len(self.char_terms),
                "char_ngram_range": list(CHAR_NGRAMS) if self.char_terms else None,
                "hybrid_transformer_weight": self.transformer_weight,
                "C": BASELINE_C,
                "weighting": "sublinear tf x smoothed idf, L2-normalised",
            },
        )

    @classmethod
    def load(cls, directory: Path) -> TfidfScorer | None:
        """The model saved in ``directory``; None when neither file is there; ``ArtifactError``
        when the files are incomplete, corrupt, do not belong together or do not fit."""
        loaded = load_part(directory, TFIDF_PART)
        if loaded is None:
            return None
        document, arrays = loaded
        try:
            n_classes = int(document["n_classes"])
            return cls(
                terms=tuple(str(term) for term in arrays["terms"].tolist()),
                idf=arrays["idf"].astype(np.float64, casting="same_kind"),
                coef=arrays["coef"].astype(np.float64, casting="same_kind"),
                intercept=arrays["intercept"].astype(np.float64, casting="same_kind"),
                classes=arrays["classes"].astype(np.int64, casting="same_kind"),
                n_classes=n_classes,
                char_terms=tuple(str(term) for term in arrays["char_terms"].tolist()),
                char_idf=arrays["char_idf"].astype(np.float64, casting="same_kind"),
                # Files written before the weight was a setting: the equal mean.
                transformer_weight=float(document.get("hybrid_transformer_weight", 0.5)),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ArtifactError(
                f"{Path(directory) / FILE_NAME}: invalid TF-IDF model: {exc}"
            ) from exc


def hybrid_logits(
    logits: FloatArray, tfidf_probs: FloatArray, transformer_weight: float = 0.5
) -> FloatArray:
    """The hybrid's scores: the log of the weighted mean of the transformer's probabilities at
    temperature 1 (``logits``, weight ``transformer_weight``) and the TF-IDF model's, per row.
    Calibration (temperature, thresholds) then treats them as logits: softmax(log p / T)
    sharpens or flattens p."""
    mixed = transformer_weight * softmax(logits) + (1.0 - transformer_weight) * tfidf_probs
    result: FloatArray = np.log(np.clip(mixed, 1e-12, None))
    return result
