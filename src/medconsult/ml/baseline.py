"""TF-IDF + logistic-regression baseline, trained on the same split as the model (torch-free),
and the TF-IDF half of the hybrid classifier.

The benchmark is nearly saturated (about 97-98% for this baseline), so every report of the
fine-tuned model carries this baseline's numbers from the same run for comparison.

The hybrid (``hybrid_logits``): the mean of the transformer's probabilities (temperature 1) and
this model's, as log-probabilities that calibration then treats like logits. Chosen by the
cross-validation of ``medconsult cv`` (README, "DDXPlus and the differential"). For serving,
the fitted pipeline becomes a ``TfidfScorer``: its vocabulary, idf weights and the regression's
coefficients as arrays (``arrays.py``; no pickle), applied with numpy exactly as scikit-learn's
``predict_proba`` (``tests/ml/test_baseline.py``), so neither scikit-learn nor a pickle is
needed where the model is served.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
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

FILE_NAME = "tfidf.json"
ARRAYS_NAME = "tfidf.npz"
FORMAT = "medconsult-tfidf-logreg"
FORMAT_VERSION = 1
_ARRAY_NAMES = ("terms", "idf", "coef", "intercept", "classes")
TFIDF_PART = PartFormat(FILE_NAME, ARRAYS_NAME, FORMAT, FORMAT_VERSION, _ARRAY_NAMES, "TF-IDF")


class TfidfBaseline:
    def __init__(self, n_classes: int) -> None:
        # scikit-learn only where a model is fitted: serving reads a ``TfidfScorer``.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        self.n_classes = n_classes
        self.pipeline = Pipeline(
            [
                ("tfidf", TfidfVectorizer(ngram_range=BASELINE_NGRAMS, sublinear_tf=True)),
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

    def scorer(self) -> TfidfScorer:
        """The fitted model as arrays, for serving (see the module docstring)."""
        vectorizer = self.pipeline.named_steps["tfidf"]
        regression = self.pipeline.named_steps["lr"]
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        terms = sorted(vocabulary, key=vocabulary.__getitem__)
        coef = np.asarray(regression.coef_, dtype=np.float64)
        intercept = np.asarray(regression.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:
            # Two classes: scikit-learn keeps one row z for the second, P = sigmoid(z);
            # softmax over (-z/2, z/2) gives the same.
            coef = np.vstack([-coef, coef]) / 2
            intercept = np.concatenate([-intercept, intercept]) / 2
        return TfidfScorer(
            terms=terms,
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
            coef=coef,
            intercept=intercept,
            classes=np.asarray(regression.classes_, dtype=np.int64),
            n_classes=self.n_classes,
        )


class TfidfScorer:
    """A fitted ``TfidfBaseline`` as arrays: ``predict_proba`` with numpy alone."""

    def __init__(
        self,
        *,
        terms: Sequence[str],
        idf: NDArray[np.float64],
        coef: NDArray[np.float64],
        intercept: NDArray[np.float64],
        classes: NDArray[np.int64],
        n_classes: int,
    ) -> None:
        if not (len(terms) == len(idf) == coef.shape[1]) or not (
            coef.shape[0] == len(intercept) == len(classes)
        ):
            raise ArtifactError(
                f"TF-IDF arrays do not fit together: {len(terms)} terms, {len(idf)} idf "
                f"weights, coefficients {coef.shape}, {len(intercept)} intercepts, "
                f"{len(classes)} classes"
            )
        if len(classes) and (classes.min() < 0 or classes.max() >= n_classes):
            raise ArtifactError(f"TF-IDF classes outside 0..{n_classes - 1}")
        self.terms = tuple(terms)
        self.columns = {term: column for column, term in enumerate(self.terms)}
        self.idf = idf
        self.coef = coef
        self.intercept = intercept
        self.classes = classes
        self.n_classes = n_classes

    def _features(self, text: str) -> tuple[list[int], NDArray[np.float64]]:
        """The text's TF-IDF vector as (columns, values): word uni- and bigrams of the
        lower-cased text, sublinear term frequency times idf, L2-normalised."""
        tokens = TOKEN_PATTERN.findall(text.lower())
        grams = list(tokens)
        for n in range(2, BASELINE_NGRAMS[1] + 1):
            grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        counts = Counter(gram for gram in grams if gram in self.columns)
        columns = [self.columns[gram] for gram in counts]
        values = np.array(
            [
                (1.0 + math.log(count)) * self.idf[self.columns[gram]]
                for gram, count in counts.items()
            ],
            dtype=np.float64,
        )
        norm = float(np.sqrt(np.sum(values * values)))
        return columns, values / norm if norm > 0 else values

    def word_contributions(self, text: str, label: int) -> dict[tuple[int, int], float]:
        """Per word span of ``text``, its part in this model's log-probability of ``label``:
        gradient x input of log P(label) with respect to the TF-IDF features, each term's
        share split evenly over its occurrences (a bigram's over its two words). Empty when
        the model never saw ``label``."""
        position = np.flatnonzero(self.classes == label)
        columns, values = self._features(text)
        if not len(position) or not columns:
            return {}
        weights = self.coef[:, columns]
        probs = softmax((weights @ values + self.intercept)[None, :])[0]
        # d log P(c) / d x_t = coef[c, t] - sum_k P(k) coef[k, t]; times x_t.
        per_term = values * (weights[int(position[0])] - probs @ weights)
        contribution = dict(zip((self.terms[c] for c in columns), per_term, strict=True))
        lowered = text.lower()
        # Spans in ``text``: lower-casing keeps every length but for a few letters (then the
        # original is read, which may split such a rare word differently).
        source = lowered if len(lowered) == len(text) else text
        tokens = [(m.group().lower(), m.span()) for m in TOKEN_PATTERN.finditer(source)]
        occurrences: dict[str, list[list[tuple[int, int]]]] = defaultdict(list)
        for index, (token, span) in enumerate(tokens):
            occurrences[token].append([span])
            for n in range(2, BASELINE_NGRAMS[1] + 1):
                if index + n <= len(tokens):
                    gram = " ".join(word for word, _ in tokens[index : index + n])
                    occurrences[gram].append([span for _, span in tokens[index : index + n]])
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
            },
            document={
                "n_classes": self.n_classes,
                "n_terms": len(self.terms),
                "ngram_range": list(BASELINE_NGRAMS),
                "token_pattern": TOKEN_PATTERN.pattern,
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
                terms=[str(term) for term in arrays["terms"].tolist()],
                idf=arrays["idf"].astype(np.float64, casting="same_kind"),
                coef=arrays["coef"].astype(np.float64, casting="same_kind"),
                intercept=arrays["intercept"].astype(np.float64, casting="same_kind"),
                classes=arrays["classes"].astype(np.int64, casting="same_kind"),
                n_classes=n_classes,
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ArtifactError(
                f"{Path(directory) / FILE_NAME}: invalid TF-IDF model: {exc}"
            ) from exc


def hybrid_logits(logits: FloatArray, tfidf_probs: FloatArray) -> FloatArray:
    """The hybrid's scores: the log of the mean of the transformer's probabilities at
    temperature 1 (``logits``) and the TF-IDF model's, per row. Calibration (temperature,
    thresholds) then treats them as logits: softmax(log p / T) sharpens or flattens p."""
    mixed = (softmax(logits) + tfidf_probs) / 2
    result: FloatArray = np.log(np.clip(mixed, 1e-12, None))
    return result
