"""The structured differential: stored trees against scikit-learn, persistence, unknown profile."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medconsult.ml import ddxplus, structured
from medconsult.ml.arrays import sha256_of
from medconsult.ml.errors import ArtifactError, DataFormatError
from medconsult.ml.structured import StructuredCase, StructuredDifferential

ITERATIONS = 15  # a few trees per condition keep the fit to seconds


@pytest.fixture(scope="module")
def patients() -> list[ddxplus.Patient]:
    return ddxplus.load_patients(limit=100)


@pytest.fixture(scope="module")
def conditions(patients: list[ddxplus.Patient]) -> list[str]:
    # One condition no training row has: it must become a constant 0.
    return [
        *sorted({p.pathology for p in patients} | {n for p in patients for n, _ in p.differential}),
        "Never seen",
    ]


@pytest.fixture(scope="module")
def fitted(
    patients: list[ddxplus.Patient], conditions: list[str]
) -> tuple[StructuredDifferential, list[Any], list[StructuredCase]]:
    train = patients[:60]
    return structured._fit_with_estimators(
        [StructuredCase.from_patient(p) for p in train],
        [{n for n, _ in p.differential} for p in train],
        conditions,
        max_iter=ITERATIONS,
        unknown_fraction=0.3,
    )


@pytest.fixture(scope="module")
def held_out(patients: list[ddxplus.Patient]) -> list[StructuredCase]:
    cases = [StructuredCase.from_patient(p) for p in patients[60:]]
    rng = random.Random(0)
    questionnaire = ddxplus.load_questionnaire()
    partial = [
        StructuredCase(
            ddxplus.partial_answers(c.answers, questionnaire, rng, fraction=0.3), c.age, c.sex
        )
        for c in cases[:15]
    ]
    unknown = [StructuredCase(c.answers, None, None) for c in cases[:10]] + [
        StructuredCase(c.answers, None, c.sex) for c in cases[10:15]
    ]
    return cases + partial + unknown + [StructuredCase({}, None, None)]


def _sklearn_probs(models: list[Any], x: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [np.full(len(x), m) if isinstance(m, float) else m.predict_proba(x)[:, 1] for m in models]
    )


def test_loaded_model_reproduces_sklearn(
    fitted: tuple[StructuredDifferential, list[Any], list[StructuredCase]],
    held_out: list[StructuredCase],
    tmp_path: Path,
) -> None:
    model, models, rows = fitted
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        structured.FILE_NAME,
        structured.ARRAYS_NAME,
    ]
    loaded = StructuredDifferential.load(tmp_path)
    assert loaded is not None
    assert loaded.conditions == model.conditions
    assert loaded.feature_names == model.feature_names
    assert loaded.threshold == 0.5
    for cases in (held_out, rows):
        expected = _sklearn_probs(models, model.features(cases))
        np.testing.assert_allclose(loaded.membership(cases), expected, rtol=0, atol=1e-9)
    # The unknown ages reach the trees as missing values, which go where scikit-learn sends them.
    assert np.isnan(model.features(held_out)[:, model.feature_names.index("age")]).any()
    assert (loaded.membership(held_out)[:, -1] == 0.0).all()  # "Never seen": constant 0


def test_value_equal_to_a_threshold_goes_left_as_in_sklearn(
    fitted: tuple[StructuredDifferential, list[Any], list[StructuredCase]],
    held_out: list[StructuredCase],
) -> None:
    model, models, _ = fitted
    x = model.features(held_out)
    checked = 0
    for m in models:
        if isinstance(m, float):
            continue
        for (predictor,) in m._predictors[:3]:
            root = predictor.nodes[0]
            if root["is_leaf"]:
                continue
            column = x.copy()
            column[:, root["feature_idx"]] = root["num_threshold"]
            expected = _sklearn_probs(models, column)
            np.testing.assert_allclose(
                model._forest.probabilities(column), expected, rtol=0, atol=1e-9
            )
            checked += 1
        if checked >= 6:
            break
    assert checked >= 6


def test_hand_made_tree_uses_less_or_equal_and_missing_direction() -> None:
    # One condition, one tree: root splits feature 0 at 0.5, NaN goes right.
    forest = structured._Forest(
        feature=np.array([0, 0, 0], dtype=np.int32),
        threshold=np.array([0.5, 0.0, 0.0]),
        left=np.array([1, 1, 2], dtype=np.int32),
        right=np.array([2, 1, 2], dtype=np.int32),
        value=np.array([0.0, -1.0, 1.0]),
        is_leaf=np.array([False, True, True]),
        missing_left=np.array([False, False, False]),
        tree_offsets=np.array([0, 3]),
        condition_offsets=np.array([0, 1]),
        baseline=np.array([0.0]),
        constant=np.array([math.nan]),
    )
    probs = forest.probabilities(np.array([[0.4], [0.5], [0.6], [math.nan]]))[:, 0]
    low, high = 1 / (1 + math.exp(1)), 1 / (1 + math.exp(-1))
    np.testing.assert_allclose(probs, [low, low, high, high])


def test_members_are_above_threshold_and_sorted(
    fitted: tuple[StructuredDifferential, list[Any], list[StructuredCase]],
    held_out: list[StructuredCase],
) -> None:
    model = fitted[0]
    probs = model.membership(held_out[:5])
    for case, row in zip(held_out[:5], probs, strict=True):
        members = model.members(case)
        values = [p for _, p in members]
        assert values == sorted(values, reverse=True)
        assert all(p >= model.threshold for p in values)
        assert {name for name, _ in members} == {
            name for name, p in zip(model.conditions, row, strict=True) if p >= model.threshold
        }
    assert any(model.members(case) for case in held_out[:5])


def test_unknown_age_and_sex(
    fitted: tuple[StructuredDifferential, list[Any], list[StructuredCase]],
    held_out: list[StructuredCase],
) -> None:
    model, _, rows = fitted
    assert any(r.age is None for r in rows)
    assert any(r.sex is None for r in rows)
    case = held_out[0]
    anonymous = StructuredCase(case.answers, None, None)
    x = model.features([anonymous, StructuredCase(case.answers, 30, "x")])
    names = model.feature_names
    assert x[0, names.index("age_unknown")] == 1
    assert x[0, names.index("sex_unknown")] == 1
    assert x[1, names.index("age_unknown")] == 0
    assert x[1, names.index("sex_unknown")] == 1
    probs = model.membership([anonymous])
    assert probs.shape == (1, len(model.conditions))
    assert np.isfinite(probs).all()
    assert (probs >= 0).all()
    assert (probs <= 1).all()
    assert isinstance(model.members(anonymous), list)


def test_partial_copies_keep_the_initial_evidence(patients: list[ddxplus.Patient]) -> None:
    cases = [StructuredCase.from_patient(p) for p in patients[:40]]
    rows, truths = structured._training_rows(
        cases,
        [{p.pathology} for p in patients[:40]],
        partial_fraction=0.5,
        unknown_fraction=0.0,
        seed=1,
        questionnaire=ddxplus.load_questionnaire(),
    )
    assert len(rows) == 60
    assert len(truths) == 60
    copies = rows[40:]
    assert all(c.initial_evidence and c.initial_evidence in c.answers for c in copies)

    def origin(copy: StructuredCase) -> StructuredCase:
        return next(c for c in cases if all(c.answers.get(k) == v for k, v in copy.answers.items()))

    assert any(len(copy.answers) < len(origin(copy).answers) for copy in copies)


def test_answers_no_and_unknown_codes_count_as_absent(
    fitted: tuple[StructuredDifferential, list[Any], list[StructuredCase]],
) -> None:
    model = fitted[0]
    base = StructuredCase({}, 40, "F")
    same = StructuredCase({"E_9": False, "E_999": True, "E_54": ["V_nothing"]}, 40, "F")
    np.testing.assert_array_equal(model.features([base]), model.features([same]))


def test_load_returns_none_when_absent(tmp_path: Path) -> None:
    assert StructuredDifferential.load(tmp_path) is None
    assert StructuredDifferential.load(tmp_path / "missing") is None


@pytest.fixture
def saved(
    fitted: tuple[StructuredDifferential, list[Any], list[StructuredCase]], tmp_path: Path
) -> Path:
    fitted[0].save(tmp_path)
    return tmp_path


def test_one_file_missing_is_an_error(saved: Path) -> None:
    (saved / structured.ARRAYS_NAME).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        StructuredDifferential.load(saved)


def test_corrupt_json_is_an_error(saved: Path) -> None:
    (saved / structured.FILE_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="unreadable"):
        StructuredDifferential.load(saved)


def test_other_models_arrays_are_an_error(saved: Path) -> None:
    arrays = saved / structured.ARRAYS_NAME
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        StructuredDifferential.load(saved)


def _rewrite_arrays(directory: Path, **changes: np.ndarray) -> None:
    """Replace some arrays and update the JSON's checksum, as a wrong but consistent pair."""
    path = directory / structured.ARRAYS_NAME
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays.update(changes)
    with path.open("wb") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
    document = json.loads((directory / structured.FILE_NAME).read_text(encoding="utf-8"))
    document["arrays"]["sha256"] = sha256_of(path)
    (directory / structured.FILE_NAME).write_text(json.dumps(document), encoding="utf-8")


def test_mismatched_arrays_are_an_error(saved: Path) -> None:
    model = StructuredDifferential.load(saved)
    assert model is not None
    _rewrite_arrays(saved, baseline=np.zeros(len(model.conditions) + 1))
    with pytest.raises(ArtifactError, match="do not match the conditions"):
        StructuredDifferential.load(saved)


def test_out_of_range_features_are_an_error(saved: Path) -> None:
    with np.load(saved / structured.ARRAYS_NAME, allow_pickle=False) as stored:
        feature = stored["feature"].copy()
        inner = ~stored["is_leaf"]
    feature[inner] = 10_000
    _rewrite_arrays(saved, feature=feature)
    with pytest.raises(ArtifactError, match="feature index out of range"):
        StructuredDifferential.load(saved)


def test_pickled_arrays_are_refused(saved: Path) -> None:
    _rewrite_arrays(saved, baseline=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ArtifactError, match="unreadable"):
        StructuredDifferential.load(saved)


def test_wrong_format_is_an_error(saved: Path) -> None:
    path = saved / structured.FILE_NAME
    document = json.loads(path.read_text(encoding="utf-8"))
    document["version"] = 99
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ArtifactError, match="format version"):
        StructuredDifferential.load(saved)


def test_fit_rejects_unknown_conditions(patients: list[ddxplus.Patient]) -> None:
    cases = [StructuredCase.from_patient(p) for p in patients[:3]]
    with pytest.raises(DataFormatError, match="not among the conditions"):
        structured.fit(cases, [{"Something else"}] * 3, ["Anemia"], max_iter=2)
    with pytest.raises(ValueError, match="differentials"):
        structured.fit(cases, [{"Anemia"}], ["Anemia"], max_iter=2)


def test_truncated_arrays_with_matching_checksum_are_an_error(saved: Path) -> None:
    arrays = saved / structured.ARRAYS_NAME
    arrays.write_bytes(arrays.read_bytes()[:100])
    path = saved / structured.FILE_NAME
    document = json.loads(path.read_text(encoding="utf-8"))
    document["arrays"]["sha256"] = sha256_of(arrays)
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ArtifactError, match="unreadable"):
        StructuredDifferential.load(saved)
