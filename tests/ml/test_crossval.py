"""Cross-validation folds and the baseline-only report on real rows of both formats."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from medconsult.ml.crossval import (
    cross_fitted_ece,
    cv_splits,
    format_summary,
    kfold_indices,
    run_cv,
)
from medconsult.ml.data import LABELS, data_sha256, default_data_paths, load_dataset
from medconsult.ml.ddxplus import default_folder
from medconsult.ml.errors import SettingError
from medconsult.ml.options import CROSS_VALIDATION_REPORT, RECIPE
from medconsult.ml.testing import default_tiny_rows


def test_folds_are_fixed_stratified_and_partition_the_rows() -> None:
    labels = ["a"] * 10 + ["b"] * 5 + [None] * 3
    folds = kfold_indices(labels, 5, 42)
    assert folds == kfold_indices(labels, 5, 42)
    assert folds != kfold_indices(labels, 5, 7)
    assert sorted(i for fold in folds for i in fold) == list(range(len(labels)))
    assert [sum(labels[i] == "a" for i in fold) for fold in folds] == [2] * 5
    assert [sum(labels[i] == "b" for i in fold) for fold in folds] == [1] * 5
    assert max(map(len, folds)) - min(map(len, folds)) <= 1


@pytest.fixture(scope="module")
def two_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cv")
    s2d = folder / "s2d.csv"
    with s2d.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("label", "text"), *default_tiny_rows(per_label=5)])
    ddx = folder / "ddxplus"
    ddx.mkdir()
    for name in ("release_evidences.json", "release_conditions.json"):
        (ddx / name).write_bytes((default_folder() / name).read_bytes())
    lines = (default_folder() / "patients.csv").read_text(encoding="utf-8").splitlines()
    (ddx / "patients.csv").write_text("\n".join(lines[:151]) + "\n", encoding="utf-8")
    return s2d, ddx


def test_each_file_is_folded_on_its_own(two_files: tuple[Path, Path]) -> None:
    parts = [load_dataset(path) for path in two_files]
    splits = cv_splits(parts, 5, 42)
    held = [test for _, test in splits]
    assert sum(len(test) for test in held) == len(parts[0]) + len(parts[1])
    for train, test in splits:
        assert len(train) + len(test) == len(parts[0]) + len(parts[1])
        assert set(train.texts).isdisjoint(test.texts)
        assert test.source_names == ["s2d", "ddxplus"]


def test_baseline_report_gives_mean_and_sd_per_source(two_files: tuple[Path, Path]) -> None:
    report = run_cv(list(two_files), folds=5, seed=42, model_folds=0)
    assert "model" not in report
    baseline = report["baseline_tfidf_logreg"]
    assert len(baseline["per_fold"]) == 5
    summary = baseline["summary"]
    assert set(summary) == {"overall", "s2d", "ddxplus"}
    assert {"gtpa_at_1", "ddf1"} <= set(summary["ddxplus"])
    assert "ddf1" not in summary["s2d"]
    scores = [fold["s2d"]["macro_f1"] for fold in baseline["per_fold"]]
    assert summary["s2d"]["macro_f1"]["mean"] == pytest.approx(np.mean(scores))
    assert summary["s2d"]["macro_f1"]["sd"] == pytest.approx(np.std(scores, ddof=1))
    assert baseline["calibration"]["n"] == report["n_rows"]


def test_cross_fitted_ece_uses_the_other_folds_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(20, 3)) * 5 for _ in range(3)]
    targets = [np.argmax(block + rng.normal(size=block.shape), axis=1) for block in logits]
    result = cross_fitted_ece(logits, targets)
    assert result["n"] == 60
    assert 0.0 <= result["ece_per_fold"]["mean"] <= 1.0
    assert result["temperature"] > 0


@pytest.mark.slow  # trains two tiny models through the whole training pipeline
def test_model_folds_report_the_held_out_learning_curve(two_files: tuple[Path, Path]) -> None:
    report = run_cv(
        list(two_files),
        folds=5,
        seed=42,
        model_folds=2,
        overrides={"tiny": True, "epochs": 2, "threads": 1},
    )

    model = report["model"]
    assert model["folds_run"] == 2
    curve = model["epoch_curve"]
    assert [point["epoch"] for point in curve] == [1, 2]
    # The last epoch's held-out macro-F1 is the one the fold report scores (no selection).
    last = [fold["overall"]["macro_f1"] for fold in model["per_fold"]]
    assert curve[-1]["val_macro_f1"]["mean"] == pytest.approx(np.mean(last), abs=1e-6)
    assert curve[-1]["val_macro_f1"]["n"] == 2
    hybrid = model["hybrid_mean_of_probabilities"]
    assert len(hybrid["per_fold"]) == 2
    assert set(hybrid["summary"]) == set(model["summary"])


def test_a_fold_out_of_range_is_refused(two_files: tuple[Path, Path]) -> None:
    with pytest.raises(SettingError, match=r"folds \[5\] out of range"):
        run_cv(list(two_files), folds=5, seed=42, model_fold_ids=[1, 5])


@pytest.mark.slow  # trains one tiny model through the whole training pipeline
def test_named_folds_run_alone_and_each_leaves_its_record(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    report = run_cv(
        list(two_files),
        folds=5,
        seed=42,
        model_fold_ids=[3],
        overrides={"tiny": True, "epochs": 1, "threads": 1},
        work_dir=tmp_path,
    )

    model = report["model"]
    assert model["fold_ids"] == [3]
    assert model["folds_run"] == 1
    # The baseline's figures on the same fold are its fourth fold's.
    baseline_fold = report["baseline_tfidf_logreg"]["per_fold"][3]
    assert model["baseline_same_folds"]["overall"]["macro_f1"]["mean"] == pytest.approx(
        baseline_fold["overall"]["macro_f1"]
    )
    record = json.loads((tmp_path / "fold-3.json").read_text(encoding="utf-8"))
    assert record["fold"] == 3
    assert record["model"] == model["per_fold"][0]
    hybrid = model["hybrid_mean_of_probabilities"]["per_fold"][0]
    assert record["hybrid_mean_of_probabilities"] == hybrid
    assert record["baseline_tfidf_logreg"] == baseline_fold
    assert [point["epoch"] for point in record["history"]] == [1]
    held_out = cv_splits([load_dataset(path) for path in two_files], 5, 42)[3][1]
    with np.load(tmp_path / "fold-3.npz") as arrays:
        assert arrays["logits"].shape == (len(held_out), len(LABELS))
        assert arrays["ood_scores"].shape == (len(held_out),)
    assert record["n_heldout"] == len(held_out)
    assert not (tmp_path / "fold-0.json").exists()


@pytest.mark.slow  # trains two tiny models through the whole training pipeline
def test_folds_run_apart_join_into_one_report_with_the_final_calibration(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    settings = {"tiny": True, "epochs": 1, "threads": 1}
    first = run_cv(
        list(two_files), folds=2, seed=42, model_fold_ids=[0], overrides=settings, work_dir=tmp_path
    )
    assert first["model"]["fold_ids"] == [0]
    assert "final_calibration" not in first  # one fold of two

    # Fold 0 is read back, not trained again (training refuses a non-empty artifact folder).
    second = run_cv(
        list(two_files), folds=2, seed=42, model_fold_ids=[1], overrides=settings, work_dir=tmp_path
    )
    model = second["model"]
    assert model["fold_ids"] == [0, 1]
    assert model["per_fold"][0] == first["model"]["per_fold"][0]
    final = second["final_calibration"]
    assert final["served"] == "hybrid"
    assert final["n"] == final["metrics"]["n"] == second["n_rows"]
    assert set(final["per_source"]) == {"overall", "s2d", "ddxplus"}
    assert final["temperature"] > 0
    assert 0.0 <= final["threshold"] <= 1.0
    assert final["ood_threshold"] is not None
    # Both reasons together stay within the abstention budget on the out-of-fold rows.
    assert final["abstention"] <= final["target_abstention"] + 1e-9
    # ... by construction there: the honest figure chooses the OOD threshold on other rows.
    assert 0.0 <= final["abstention_cross_fitted"] <= 1.0
    assert (
        final["differential_threshold"]
        == final["per_source"]["ddxplus"]["differential"]["threshold"]
    )
    assert "final calibration (hybrid, out-of-fold" in format_summary(second)

    # The hybrid's TF-IDF half changes how the held-out logits are mixed, not the fold models:
    # they are read back (training again would be refused) and mixed with a words-only half.
    assert model["hybrid_mean_of_probabilities"]["lexical_features"] == "word+char"
    words = run_cv(
        list(two_files),
        folds=2,
        seed=42,
        model_folds=0,
        overrides={**settings, "lexical_features": "word"},
        work_dir=tmp_path,
    )
    assert words["model"]["per_fold"] == model["per_fold"]
    assert words["model"]["hybrid_mean_of_probabilities"]["lexical_features"] == "word"
    assert words["identity"]["recipe"]["lexical_features"] == "word"
    assert "word features" in format_summary(words)

    with pytest.raises(SettingError, match="another cross-validation"):
        run_cv(
            list(two_files),
            folds=2,
            seed=42,
            model_folds=0,
            overrides={**settings, "epochs": 2},
            work_dir=tmp_path,
        )


def test_the_packaged_cross_validation_is_of_the_current_recipe_and_data() -> None:
    """The first-run model is trained with this report's out-of-fold calibration: changing the
    recipe or the data without cross-validating again must fail here, not at a clinic's first
    run."""
    from medconsult.ml.train import (
        TrainConfig,
        load_out_of_fold_calibration,
        load_training_data,
    )

    report = json.loads(CROSS_VALIDATION_REPORT.read_text(encoding="utf-8"))
    identity = report["identity"]
    assert identity["recipe"] == RECIPE, "recipe changed: run medconsult cv again"
    assert identity["data_sha256"] == [data_sha256(path) for path in default_data_paths()]
    assert report["model"]["fold_ids"] == list(range(identity["folds"]))
    assert all(not Path(path).is_absolute() for path in report["data"])
    final = report["final_calibration"]
    assert final["served"] == ("hybrid" if RECIPE["hybrid"] else "transformer")
    config = TrainConfig(calibration_from=CROSS_VALIDATION_REPORT)
    _, data_files = load_training_data(config)
    assert load_out_of_fold_calibration(config, data_files)["temperature"] == final["temperature"]
