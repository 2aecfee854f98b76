"""TF-IDF + logistic-regression baseline, trained on the same split as the model (torch-free).

The benchmark is nearly saturated (about 97-98% for this baseline), so every report of the
fine-tuned model carries this baseline's numbers from the same run for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from medconsult.ml.metrics import FloatArray

# Word uni+bigrams with sublinear tf, weakly regularised LR (C=10): a strong, standard setup.
BASELINE_C = 10.0
BASELINE_NGRAMS = (1, 2)


class TfidfBaseline:
    def __init__(self, n_classes: int) -> None:
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
