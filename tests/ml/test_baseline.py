"""The TF-IDF + LR model: the served arrays reproduce scikit-learn, persist safely, and mix into
the hybrid's scores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from medconsult.ml.arrays import sha256_of
from medconsult.ml.baseline import (
    ARRAYS_NAME,
    FILE_NAME,
    TfidfBaseline,
    TfidfScorer,
    char_grams,
    hybrid_logits,
)
from medconsult.ml.data import LABEL2ID, default_data_path, load_dataset
from medconsult.ml.errors import ArtifactError
from medconsult.ml.metrics import softmax

ODD_TEXTS = [
    "",
    "!!!",
    "a",  # one-letter words are not tokens
    "zzzz qqqq never seen words",
    "Rash rash RASH rash itchy itchy skin skin skin",  # repeated terms: sublinear tf
    "发烧 咳嗽 three days",  # Chinese runs are word characters too
    "I have a FEVER, a headache; and-a cough...\nand chills",
    "tabs\tand  double  spaces\u00a0and a no-break space, ÉCZÉMA straße",
    "x y z ab",  # chunks shorter than the longest character n-grams
]


# "word": the comparison baseline; "word+char": the hybrid's half.
@pytest.fixture(scope="module", params=["word", "word+char"])
def fitted(request: pytest.FixtureRequest) -> tuple[TfidfBaseline, list[str]]:
    dataset = load_dataset(default_data_path())
    rows = list(range(0, len(dataset), 4))  # a quarter of Symptom2Disease: seconds to fit
    texts = [dataset.texts[i] for i in rows]
    targets = [LABEL2ID[str(dataset.labels[i])] for i in rows]
    held_out = [dataset.texts[i] for i in range(1, len(dataset), 16)]
    return TfidfBaseline(len(LABEL2ID), request.param).fit(texts, targets), held_out


def test_character_ngrams_are_scikit_learns() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyse = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    for text in ODD_TEXTS:
        chunks = text.lower().split()
        assert [gram for chunk in chunks for gram, _ in char_grams(chunk)] == analyse(text)
    # Each gram's start in the padded chunk.
    assert [(gram, start) for gram, start in char_grams("abc") if len(gram) == 3] == [
        (" ab", 0),
        ("abc", 1),
        ("bc ", 2),
    ]


def test_unknown_features_are_refused() -> None:
    with pytest.raises(ValueError, match="features"):
        TfidfBaseline(3, "chars")


def test_the_arrays_reproduce_scikit_learn(fitted: tuple[TfidfBaseline, list[str]]) -> None:
    baseline, held_out = fitted
    texts = held_out + ODD_TEXTS
    expected = baseline.predict_proba(texts)
    scorer = baseline.scorer()
    np.testing.assert_allclose(scorer.predict_proba(texts), expected, rtol=0, atol=1e-12)
    # Classes absent from the fit get zero, as in the baseline.
    absent = sorted(set(range(len(LABEL2ID))) - set(scorer.classes.tolist()))
    assert absent
    assert np.all(scorer.predict_proba(texts)[:, absent] == 0)


@pytest.mark.parametrize("features", ["word", "word+char"])
def test_two_classes_as_scikit_learn_gives_them(features: str) -> None:
    texts = ["fever and cough", "itchy rash on the arm", "cough at night", "red rash"] * 3
    baseline = TfidfBaseline(5, features).fit(texts, [1, 3, 1, 3] * 3)
    queries = ["a cough", "a rash", "nothing known"]
    np.testing.assert_allclose(
        baseline.scorer().predict_proba(queries), baseline.predict_proba(queries), atol=1e-12
    )


def test_saved_and_loaded_it_scores_the_same(
    fitted: tuple[TfidfBaseline, list[str]], tmp_path: Path
) -> None:
    baseline, held_out = fitted
    scorer = baseline.scorer()
    assert TfidfScorer.load(tmp_path) is None  # no files: no TF-IDF half
    scorer.save(tmp_path)
    document = json.loads((tmp_path / FILE_NAME).read_text())
    assert document["n_terms"] == len(scorer.terms)
    assert document["features"] == baseline.features
    assert (document["n_char_terms"] > 0) == (baseline.features == "word+char")
    assert document["arrays"]["sha256"] == sha256_of(tmp_path / ARRAYS_NAME)
    loaded = TfidfScorer.load(tmp_path)
    assert loaded is not None
    assert loaded.features == baseline.features
    np.testing.assert_array_equal(loaded.predict_proba(held_out), scorer.predict_proba(held_out))


def test_a_version_1_file_of_words_only_is_still_read(tmp_path: Path) -> None:
    """Models trained before the character block keep serving after an upgrade."""
    texts = ["fever and cough", "itchy rash on the arm", "cough at night", "red rash"] * 3
    scorer = TfidfBaseline(5).fit(texts, [1, 3, 1, 3] * 3).scorer()
    np.savez(
        tmp_path / ARRAYS_NAME,
        terms=np.array(scorer.terms),
        idf=scorer.idf,
        coef=scorer.coef,
        intercept=scorer.intercept,
        classes=scorer.classes,
    )
    document = {
        "format": "medconsult-tfidf-logreg",
        "version": 1,
        "n_classes": 5,
        "arrays": {"file": ARRAYS_NAME, "sha256": sha256_of(tmp_path / ARRAYS_NAME)},
    }
    (tmp_path / FILE_NAME).write_text(json.dumps(document))
    loaded = TfidfScorer.load(tmp_path)
    assert loaded is not None
    assert loaded.features == "word"
    assert loaded.transformer_weight == 0.5  # the equal mean of files without the setting
    np.testing.assert_array_equal(loaded.predict_proba(texts), scorer.predict_proba(texts))

    document["version"] = 3  # a newer format than this code knows
    (tmp_path / FILE_NAME).write_text(json.dumps(document))
    with pytest.raises(ArtifactError, match="format version 3"):
        TfidfScorer.load(tmp_path)


def test_damaged_files_are_refused(fitted: tuple[TfidfBaseline, list[str]], tmp_path: Path) -> None:
    scorer = fitted[0].scorer()
    scorer.save(tmp_path)
    arrays = tmp_path / ARRAYS_NAME
    arrays.write_bytes(arrays.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        TfidfScorer.load(tmp_path)
    arrays.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        TfidfScorer.load(tmp_path)

    # Arrays that do not fit together (a coefficient row short), with a matching checksum.
    np.savez(
        arrays,
        terms=np.array(scorer.terms),
        idf=scorer.idf,
        coef=scorer.coef[:, :-1],
        intercept=scorer.intercept,
        classes=scorer.classes,
    )
    document = json.loads((tmp_path / FILE_NAME).read_text())
    document["arrays"]["sha256"] = sha256_of(arrays)
    (tmp_path / FILE_NAME).write_text(json.dumps(document))
    with pytest.raises(ArtifactError, match="do not fit together"):
        TfidfScorer.load(tmp_path)


def test_the_hybrid_is_the_weighted_mean_of_the_two_models_probabilities() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5)) * 3
    tfidf = softmax(rng.normal(size=(6, 5)))
    tfidf[0] = [1.0, 0, 0, 0, 0]  # a zero probability stays finite
    scores = hybrid_logits(logits, tfidf)
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(softmax(scores), (softmax(logits) + tfidf) / 2, atol=1e-9)
    weighted = hybrid_logits(logits, tfidf, 0.3)
    np.testing.assert_allclose(softmax(weighted), 0.3 * softmax(logits) + 0.7 * tfidf, atol=1e-9)


def test_the_hybrid_weight_is_saved_with_the_model_and_bounded(
    fitted: tuple[TfidfBaseline, list[str]], tmp_path: Path
) -> None:
    fitted[0].scorer(0.3).save(tmp_path)
    assert json.loads((tmp_path / FILE_NAME).read_text())["hybrid_transformer_weight"] == 0.3
    loaded = TfidfScorer.load(tmp_path)
    assert loaded is not None
    assert loaded.transformer_weight == 0.3
    with pytest.raises(ArtifactError, match="outside"):
        fitted[0].scorer(1.5)


def test_word_contributions_add_up_to_the_terms_and_point_at_the_label(
    fitted: tuple[TfidfBaseline, list[str]],
) -> None:
    scorer = fitted[0].scorer()
    # Every character n-gram of this text overlaps a word (no punctuation, no one-letter word),
    # so the spans add up to every term.
    text = "Itchy red RASH with silvery scales on my elbows  the rash itches"
    label = int(scorer.predict_proba([text])[0].argmax())
    words = scorer.word_contributions(text, label)
    assert set(words) <= {match.span() for match in re.finditer(r"\w+", text)}

    # What the spans hold is what the terms hold: gradient x input of log P(label).
    columns, values = scorer._features(text)
    weights = scorer.coef[:, columns]
    probs = softmax((weights @ values + scorer.intercept)[None, :])[0]
    position = int(np.flatnonzero(scorer.classes == label)[0])
    expected = values * (weights[position] - probs @ weights)
    assert sum(words.values()) == pytest.approx(float(expected.sum()))
    # The strongest word for the label is a symptom word, not a filler.
    strongest = max(words, key=words.__getitem__)
    assert text[strongest[0] : strongest[1]].lower() in {
        "itchy",
        "rash",
        "silvery",
        "scales",
        "itches",
        "red",
        "elbows",
    }

    absent = sorted(set(range(len(LABEL2ID))) - set(scorer.classes.tolist()))[0]
    assert scorer.word_contributions(text, absent) == {}
    assert scorer.word_contributions("!!!", label) == {}
    # Punctuation and one-letter words get no span of their own.
    punctuated = "Itchy, red RASH; a rash..."
    spans = scorer.word_contributions(punctuated, label)
    assert {punctuated[start:end] for start, end in spans} <= {"Itchy", "red", "RASH", "rash"}
