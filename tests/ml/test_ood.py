"""Out-of-distribution check: calibration, scores, artifact files, serving, evaluate-ood."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from medconsult.ml import ood
from medconsult.ml.artifacts import validate_artifact
from medconsult.ml.ddxplus import default_folder
from medconsult.ml.evaluate_ood import main as evaluate_ood_main
from medconsult.ml.ood import (
    LOW_CONFIDENCE,
    OUT_OF_DISTRIBUTION,
    OodCheck,
    OodStatistics,
    auroc,
    choose_ood_threshold,
    energy_score,
    fit_ood_check,
    out_of_fold_abstention,
)
from medconsult.ml.predict import Classifier
from medconsult.ml.types import Suggestion

# --- calibration ---------------------------------------------------------------------------------


def test_threshold_is_the_lowest_that_keeps_abstention_within_the_target() -> None:
    scores = np.arange(20, dtype=np.float64)  # 0..19
    none_low = np.zeros(20, dtype=bool)
    # 10 % of 20 rows = 2 may abstain: the two highest scores (18, 19) are above 17.
    assert choose_ood_threshold(scores, none_low, 0.10) == 17.0
    # Rows already abstaining on low confidence use up the budget first.
    low = none_low.copy()
    low[0] = True
    assert choose_ood_threshold(scores, low, 0.10) == 18.0
    # Low confidence alone over the budget: the OOD check never fires.
    assert choose_ood_threshold(scores, np.ones(20, dtype=bool), 0.10) == float("inf")


def test_threshold_keeps_tied_scores_together() -> None:
    scores = np.array([0.0, 1.0, 1.0, 1.0, 2.0])
    # 20 % of 5 = 1 row: only the 2.0 row may go; the three tied 1.0 rows stay.
    assert choose_ood_threshold(scores, np.zeros(5, dtype=bool), 0.2) == 1.0


def test_fitted_check_abstains_on_at_most_the_target_share_of_validation() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 8))
    targets = np.repeat(np.arange(4), 50).astype(np.int64)
    val = rng.normal(size=(100, 8))
    logits = rng.normal(size=(100, 4))
    low = np.zeros(100, dtype=bool)
    low[:2] = True
    check = fit_ood_check(
        train_features=train,
        train_targets=targets,
        val_features=val,
        val_logits=logits,
        val_low_confidence=low,
        temperature=1.0,
        method="knn",
        k=5,
        target=0.05,
    )
    abstained = low | check.is_out_of_distribution(check.scores(val, logits))
    assert abstained.mean() <= 0.05
    assert abstained.mean() == check.info["validation_abstention"]
    assert check.info["n_reference"] == 200
    assert 0.0 <= check.info["validation_abstention_out_of_fold"] <= 0.2


def test_out_of_fold_abstention_applies_thresholds_to_unseen_rows() -> None:
    scores = np.arange(100, dtype=np.float64)
    rate = out_of_fold_abstention(scores, np.zeros(100, dtype=bool), 0.05)
    assert 0.0 < rate <= 0.1
    assert np.isnan(out_of_fold_abstention(scores[:3], np.zeros(3, dtype=bool), 0.05))


# --- scores --------------------------------------------------------------------------------------


def test_knn_score_is_zero_on_a_training_case_and_grows_away_from_them() -> None:
    train = np.eye(4)
    stats = OodStatistics.fit("knn", train, np.arange(4, dtype=np.int64), k=1)
    scores = stats.score(
        np.array([[2.0, 0, 0, 0], [1.0, 1.0, 0, 0], [-1.0, 0, 0, 0]]), np.zeros((3, 2))
    )
    assert scores[0] == pytest.approx(0.0)
    assert 0.0 < scores[1] < scores[2]


def test_mahalanobis_score_is_smallest_at_a_class_mean() -> None:
    rng = np.random.default_rng(1)
    means = np.array([[0.0, 0.0], [10.0, 10.0]])
    targets = np.repeat([0, 1], 50).astype(np.int64)
    train = means[targets] + rng.normal(scale=0.5, size=(100, 2))
    stats = OodStatistics.fit("mahalanobis", train, targets)
    scores = stats.score(np.array([[10.0, 10.0], [5.0, 5.0], [30.0, -30.0]]), np.zeros((3, 2)))
    assert scores[0] < scores[1] < scores[2]


def test_energy_is_high_when_every_logit_is_low() -> None:
    confident = np.array([[10.0, 0.0, 0.0]])
    flat_low = np.array([[-5.0, -5.0, -5.0]])
    assert energy_score(flat_low)[0] > energy_score(confident)[0]
    assert energy_score(confident, 2.0)[0] == pytest.approx(
        -2.0 * np.log(np.exp(5.0) + 2.0), rel=1e-9
    )


def test_auroc() -> None:
    assert auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0
    assert auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5
    assert auroc(np.array([0.0, 2.0]), np.array([1.0])) == 0.5


# --- artifact files ------------------------------------------------------------------------------


def test_training_writes_the_check_into_the_artifact(tiny_artifact: Path) -> None:
    document = json.loads((tiny_artifact / ood.OOD_JSON).read_text())
    assert document["method"] == ood.DEFAULT_OOD_METHOD
    assert document["target_abstention"] == ood.DEFAULT_TARGET_ABSTENTION
    assert document["n_reference"] > 0
    assert document["validation_abstention"] <= ood.DEFAULT_TARGET_ABSTENTION or (
        document["threshold"] is None  # the probability threshold alone used the budget
    )
    assert (tiny_artifact / ood.OOD_ARRAYS).is_file()
    card = (tiny_artifact / "README.md").read_text()
    assert "## Out-of-distribution check" in card
    assert f"Method `{document['method']}`" in card


@pytest.mark.parametrize("method", ["knn", "mahalanobis", "energy"])
def test_saved_check_loads_back_identically(tmp_path: Path, method: ood.OodMethod) -> None:
    rng = np.random.default_rng(2)
    train = rng.normal(size=(60, 6))
    targets = np.repeat(np.arange(3), 20).astype(np.int64)
    val, logits = rng.normal(size=(40, 6)), rng.normal(size=(40, 3))
    check = fit_ood_check(
        train_features=train,
        train_targets=targets,
        val_features=val,
        val_logits=logits,
        val_low_confidence=np.zeros(40, dtype=bool),
        temperature=1.3,
        method=method,
        k=3,
    )
    check.save(tmp_path)
    loaded = OodCheck.load(tmp_path)
    assert loaded is not None
    assert loaded.method == method
    assert loaded.threshold == pytest.approx(check.threshold)
    assert loaded.statistics.temperature == 1.3
    # Arrays are stored as float32: scores agree to that precision.
    assert np.allclose(loaded.scores(val, logits), check.scores(val, logits), atol=1e-4)


def test_corrupt_check_files_are_an_artifact_error(tmp_path: Path) -> None:
    from medconsult.ml.errors import ArtifactError

    (tmp_path / ood.OOD_JSON).write_text('{"method": "knn", "threshold": 0.1}')
    (tmp_path / ood.OOD_ARRAYS).write_bytes(b"not an npz file")
    with pytest.raises(ArtifactError):
        OodCheck.load(tmp_path)


@pytest.fixture(scope="module")
def artifact_without_ood(tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny artifact as trained before the OOD check existed."""
    old = tmp_path_factory.mktemp("old") / "20240101T000000Z-before-ood"
    shutil.copytree(tiny_artifact, old)
    (old / ood.OOD_JSON).unlink()
    (old / ood.OOD_ARRAYS).unlink()
    return old


def test_artifact_without_the_check_still_loads_with_it_unavailable(
    artifact_without_ood: Path, caplog: pytest.LogCaptureFixture
) -> None:
    validate_artifact(artifact_without_ood)
    with caplog.at_level("WARNING"):
        classifier = Classifier.load(artifact_without_ood, device="cpu", precision="fp32")
    assert classifier.ood is None
    assert "no out-of-distribution statistics" in caplog.text
    suggestion = classifier.suggest(["I sneeze and my nose runs"])[0]
    assert suggestion.ood_score is None
    assert OUT_OF_DISTRIBUTION not in suggestion.abstain_reasons
    assert suggestion.abstained == (LOW_CONFIDENCE in suggestion.abstain_reasons)


# --- serving -------------------------------------------------------------------------------------


def test_suggestions_carry_the_ood_score_and_why_they_abstained(
    tiny_classifier: Classifier,
) -> None:
    texts = ["I sneeze and my nose runs", "My tooth hurts when I drink cold water"]
    assert tiny_classifier.ood is not None
    logits, scores = tiny_classifier.logits_and_ood_scores(texts)
    assert scores is not None
    for text, score, suggestion in zip(texts, scores, tiny_classifier.suggest(texts), strict=True):
        assert suggestion.ood_score == pytest.approx(float(score), abs=1e-4), text
        expected = tiny_classifier.abstain_reasons(suggestion.top.probability, float(score))
        assert suggestion.abstain_reasons == expected
        assert suggestion.abstained == bool(expected)
    assert logits.shape == (2, len(tiny_classifier.labels))


def test_a_case_above_the_ood_threshold_abstains_as_unlike_the_training_data(
    tiny_classifier: Classifier,
) -> None:
    assert tiny_classifier.ood is not None
    original = tiny_classifier.ood
    try:
        tiny_classifier.ood = dataclasses.replace(original, threshold=-np.inf)
        suggestion = tiny_classifier.suggest(["I sneeze and my nose runs"])[0]
        assert suggestion.abstained
        assert OUT_OF_DISTRIBUTION in suggestion.abstain_reasons
        assert len(suggestion.ranked) == 5  # the ranking is kept for the doctor
        round_trip = Suggestion.from_dict(json.loads(json.dumps(suggestion.to_dict())))
        assert round_trip == suggestion
        tiny_classifier.ood = dataclasses.replace(original, threshold=np.inf)
        assert OUT_OF_DISTRIBUTION not in (
            tiny_classifier.suggest(["I sneeze and my nose runs"])[0].abstain_reasons
        )
    finally:
        tiny_classifier.ood = original


def test_packed_engine_and_model_forward_give_the_same_ood_scores(tiny_artifact: Path) -> None:
    texts = ["I sneeze and my nose runs", "Pimples and blackheads all over my face."]
    packed = Classifier.load(tiny_artifact, device="cpu", precision="fp32", packed=True)
    plain = Classifier.load(tiny_artifact, device="cpu", precision="fp32", packed=False)
    assert packed.engine is not None
    assert plain.engine is None
    windows = packed.encode(texts)
    _, packed_pooled = packed.window_outputs(windows)
    _, plain_pooled = plain.window_outputs(windows)
    assert np.allclose(packed_pooled, plain_pooled, atol=1e-4)


# --- evaluate-ood --------------------------------------------------------------------------------


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "text"])
        writer.writerows(rows)
    return path


def test_evaluate_ood_prints_one_json_line(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_csv = _write_csv(
        tmp_path / "in.csv",
        [
            ("Common Cold", "I have a runny nose, sneezing and a sore throat."),
            ("Acne", "Pimples and blackheads all over my face."),
            ("Migraine", "A throbbing one-sided headache with nausea."),
        ],
    )
    out_csv = _write_csv(
        tmp_path / "out.csv",
        [
            ("toothache", "My back tooth throbs when I drink something cold."),
            ("cataract", "My vision is cloudy and I see halos around lights at night."),
        ],
    )
    status = evaluate_ood_main(
        [
            "--model",
            str(tiny_artifact),
            "--in",
            str(in_csv),
            "--out",
            str(out_csv),
            "--format",
            "json",
            "--device",
            "cpu",
        ]
    )
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["ood_available"] is True
    assert report["in"]["n"] == 3
    assert report["in"]["split"] == "all"
    assert report["out"]["n"] == 2
    for part in ("in", "out"):
        rates = report[part]
        assert 0.0 <= rates["abstention"] <= 1.0
        assert rates["abstained"] == round(rates["abstention"] * rates["n"])
        assert rates["abstention"] >= max(rates["low_confidence"], rates["out_of_distribution"])
    assert 0.0 <= report["auroc_ood_score"] <= 1.0
    assert 0.0 <= report["auroc_max_probability"] <= 1.0
    assert 0.0 <= report["in"]["accuracy"] <= 1.0


def test_evaluate_ood_pools_several_in_scope_sources_and_reports_each(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_csv = _write_csv(
        tmp_path / "in.csv",
        [
            ("Acne", "Pimples and blackheads all over my face."),
            ("Migraine", "A throbbing one-sided headache with nausea."),
        ],
    )
    # A DDXPlus folder with the first three patients of data/ddxplus.
    source = default_folder()
    folder = tmp_path / "ddxplus"
    folder.mkdir()
    for name in ("release_conditions.json", "release_evidences.json"):
        shutil.copyfile(source / name, folder / name)
    with (source / "patients.csv").open(encoding="utf-8") as handle:
        lines = [handle.readline() for _ in range(4)]
    (folder / "patients.csv").write_text("".join(lines), encoding="utf-8")
    out_csv = _write_csv(tmp_path / "out.csv", [("toothache", "My tooth hurts.")])
    argv = ["--model", str(tiny_artifact), "--in", str(in_csv), "--in", str(folder)]
    status = evaluate_ood_main([*argv, "--out", str(out_csv), "--format", "json"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    sources = report["in"]["sources"]
    assert [(s["data"], s["split"], s["n"]) for s in sources] == [
        (str(in_csv), "all", 2),
        (str(folder), "all", 3),
    ]
    assert report["in"]["n"] == 5
    assert report["in"]["unknown_labels"] == 0  # DDXPlus pathologies are labels
    assert report["in"]["abstained"] == sum(s["abstained"] for s in sources)
    assert evaluate_ood_main([*argv, "--out", str(out_csv), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert f"of which {folder} (all, n=3)" in text


def test_evaluate_ood_on_the_training_file_scores_its_validation_split(
    tiny_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    training_file = tiny_artifact.parent / f"{tiny_artifact.name}.train.csv"
    status = evaluate_ood_main(
        [
            "--model",
            str(tiny_artifact),
            "--in",
            str(training_file),
            "--out",
            str(training_file),
            "--format",
            "json",
            "--device",
            "cpu",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    n_val = json.loads((tiny_artifact / "training_args.json").read_text())["n_val"]
    assert report["in"]["split"] == "validation"
    assert report["in"]["n"] == n_val
    assert report["out"]["known_labels"] == report["out"]["n"]  # counted, still out of scope


def test_evaluate_ood_without_the_check_says_so(
    artifact_without_ood: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [("Acne", "Pimples and blackheads all over my face.")]
    in_csv = _write_csv(tmp_path / "in.csv", rows)
    out_csv = _write_csv(tmp_path / "out.csv", [("toothache", "My tooth hurts.")])
    status = evaluate_ood_main(
        [
            "--model",
            str(artifact_without_ood),
            "--in",
            str(in_csv),
            "--out",
            str(out_csv),
            "--device",
            "cpu",
        ]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "OOD check: unavailable" in text
    assert "unlike training data 0.0 %" in text
