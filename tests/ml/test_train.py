from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from medconsult.ml import train as train_module
from medconsult.ml.artifacts import REQUIRED_FILES, read_artifact_info, validate_artifact
from medconsult.ml.data import LABELS
from medconsult.ml.engine import cpu_has_native_bf16
from medconsult.ml.predict import Classifier
from medconsult.ml.structured import StructuredDifferential
from medconsult.ml.train import BF16_NOT_MEASURED


def test_tiny_artifact_is_complete_and_self_describing(tiny_artifact: Path) -> None:
    for name in REQUIRED_FILES:
        assert (tiny_artifact / name).is_file(), name
    config = json.loads((tiny_artifact / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(LABELS))] == list(LABELS)
    assert config["label2id"]["gerd"] == LABELS.index("gerd")
    args = json.loads((tiny_artifact / "training_args.json").read_text())
    assert args["seed"] == 0
    assert args["val_fraction"] == 0.34
    assert len(args["data_sha256"]) == 64
    assert args["window_aggregation"] == "mean of window logits"
    metrics = json.loads((tiny_artifact / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "top3_accuracy", "ece", "abstain_rate"):
        assert key in metrics["validation"]
        assert key in metrics["baseline_tfidf_logreg"]
    bf16 = metrics["validation_bf16"]
    if cpu_has_native_bf16():
        for key in ("accuracy", "macro_f1", "ece", "agreement_with_fp32"):
            assert key in bf16
        assert bf16["forward"] == "packed"
        assert bf16["agreement_with_fp32"] >= 0.9
        assert bf16["max_abs_probability_difference"] < 0.05
    else:  # emulated bf16 is far slower than fp32 and never served on such a CPU
        assert bf16 == {"skipped": BF16_NOT_MEASURED}
    calibration = json.loads((tiny_artifact / "calibration.json").read_text())
    assert calibration["temperature"] > 0
    assert 0.0 <= calibration["threshold"] <= 1.0
    assert "precision" in calibration["threshold_rule"]
    # The default hybrid: its TF-IDF half is stored beside the transformer, the same model as
    # the baseline's figures (fitted on the same training rows).
    assert args["hybrid"] is True
    assert args["length_group"] == 50
    assert (tiny_artifact / "tfidf.json").is_file()
    assert (tiny_artifact / "tfidf.npz").is_file()
    validate_artifact(tiny_artifact)


def test_model_card(tiny_artifact: Path) -> None:
    card = (tiny_artifact / "README.md").read_text()
    assert card.startswith("---\n")
    assert "pipeline_tag: text-classification" in card
    assert "Not for clinical decision-making on its own" in card
    assert "reviewed" in card.lower() or "reviews" in card.lower()
    assert "## Limitations" in card
    assert "## Calibration" in card
    assert "## Serving precision" in card
    assert "Served as a hybrid" in card
    if cpu_has_native_bf16():
        assert "bf16 agrees with full precision on" in card
    else:
        assert "the training CPU has no native bf16 dot products" in card
    assert "K64.9" in card


def test_artifact_files_are_read_only(tiny_artifact: Path) -> None:
    assert not (tiny_artifact / "model.safetensors").stat().st_mode & 0o222


def test_artifact_info(tiny_artifact: Path) -> None:
    info = read_artifact_info(tiny_artifact)
    assert info.version == tiny_artifact.name
    assert info.base_model == "tiny-random"
    assert "accuracy" in info.metrics
    assert "accuracy" in info.baseline_metrics
    assert info.card_path == tiny_artifact / "README.md"


def test_refuses_to_overwrite_a_non_empty_dir(tmp_path: Path) -> None:
    from medconsult.ml.errors import ArtifactError
    from medconsult.ml.testing import build_tiny_artifact

    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("do not touch")
    with pytest.raises(ArtifactError, match="refusing to overwrite"):
        build_tiny_artifact(out)
    assert (out / "keep.txt").read_text() == "do not touch"


def test_training_data_with_unknown_labels_is_refused(tmp_path: Path) -> None:
    from medconsult.ml.errors import DataFormatError
    from medconsult.ml.testing import build_tiny_artifact

    with pytest.raises(DataFormatError, match="'Flu' \\(1 rows\\)"):
        build_tiny_artifact(tmp_path / "a", rows=[("Acne", "pimples"), ("Flu", "aches")])


def test_train_cli_reports_bad_data_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medconsult.ml import train

    bad = tmp_path / "bad.csv"
    bad.write_text("diagnosis,description\nx,y\n")
    status = train.main(["--data", str(bad), "--out", str(tmp_path / "out"), "--tiny"])
    captured = capsys.readouterr()
    assert status == 2
    assert "needs columns 'label' and 'text'" in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_packaged_checkpoint_end_to_end(tmp_path: Path) -> None:
    """The real base model, one epoch on a small subset: artifact, card and metrics."""
    import csv

    from medconsult.ml.data import default_data_path, load_dataset
    from medconsult.ml.predict import Classifier
    from medconsult.ml.train import TrainConfig, train

    dataset = load_dataset(default_data_path())
    per_label: dict[str, int] = {}
    rows = []
    for raw, label, text in zip(dataset.raw_labels, dataset.labels, dataset.texts, strict=True):
        if per_label.get(str(label), 0) < 6:
            per_label[str(label)] = per_label.get(str(label), 0) + 1
            rows.append((raw, text))
    data = tmp_path / "subset.csv"
    with data.open("w", newline="") as handle:
        csv.writer(handle).writerows([("label", "text"), *rows])
    out = train(TrainConfig(data=data, out=tmp_path / "real", epochs=1, progress=False))
    validate_artifact(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation"]["n"] == 24  # round(6 * 0.2) = 1 row per label
    assert metrics["history"][0]["epoch"] == 1
    card = (out / "README.md").read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
    assert out.name.endswith("real")
    suggestion = Classifier.load(out, device="cpu").suggest(["I sneeze and my nose runs"])[0]
    assert len(suggestion.ranked) == 5


def test_bf16_check_falls_back_to_autocast_for_other_architectures(
    tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from medconsult.ml import train

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_artifact))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_artifact))
    config = train.TrainConfig(max_length=32, stride=8)
    texts = ["I sneeze and my nose runs", "Burning when I pee and a fever " * 6]
    reference = train.text_outputs(model, tokenizer, texts, config, torch.device("cpu")).logits
    packed, forward = train.bf16_text_logits(model, tokenizer, texts, config)
    assert forward == "packed"
    monkeypatch.setattr(train, "supports", lambda _model: False)
    autocast, forward = train.bf16_text_logits(model, tokenizer, texts, config)
    assert forward == "autocast"
    for logits in (packed, autocast):
        np.testing.assert_allclose(logits, reference, atol=0.05)
        assert not np.array_equal(logits, reference)  # bf16 did run


def _small_ddxplus(folder: Path, patients: int) -> Path:
    from medconsult.ml.ddxplus import default_folder

    folder.mkdir(parents=True)
    for name in ("release_evidences.json", "release_conditions.json"):
        (folder / name).write_bytes((default_folder() / name).read_bytes())
    lines = (default_folder() / "patients.csv").read_text(encoding="utf-8").splitlines()
    (folder / "patients.csv").write_text("\n".join(lines[: patients + 1]) + "\n", encoding="utf-8")
    return folder


def test_training_on_both_formats_reports_per_source_and_the_differential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny model on a few real rows of each format: the split per file, the differential
    target and threshold, per-source metrics, and evaluate reading both files back."""
    import csv

    from medconsult.ml.evaluate import main as evaluate_main
    from medconsult.ml.testing import default_tiny_rows
    from medconsult.ml.train import TrainConfig, train

    s2d = tmp_path / "s2d.csv"
    with s2d.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("label", "text"), *default_tiny_rows(per_label=2)])
    ddx = _small_ddxplus(tmp_path / "ddxplus", 40)
    out = train(
        TrainConfig(
            data=(s2d, ddx),
            out=tmp_path / "model",
            epochs=1,
            tiny=True,
            learning_rate=1e-3,
            batch_size=16,
            val_fraction=0.5,  # one validation row per Symptom2Disease label
            progress=False,
            hybrid=False,  # the transformer alone (the tiny artifact is the default hybrid)
        )
    )
    assert not (out / "tfidf.json").exists()
    assert "Served as the transformer alone" in (out / "README.md").read_text()
    args = json.loads((out / "training_args.json").read_text())
    assert [entry["source"] for entry in args["data_files"]] == ["s2d", "ddxplus"]
    assert args["data_files"][1]["format"] == "ddxplus"
    metrics = json.loads((out / "metrics.json").read_text())
    per_source = metrics["validation_per_source"]
    assert set(per_source) == {"overall", "s2d", "ddxplus"}
    assert "differential" not in per_source["s2d"]
    differential = per_source["ddxplus"]["differential"]
    assert differential["n"] == per_source["ddxplus"]["n"] > 0
    for key in ("gtpa_at_1", "ddr", "ddp", "ddf1"):
        assert 0.0 <= differential[key] <= 1.0
    assert metrics["validation_partial_interview"]["n"] == differential["n"]
    calibration = json.loads((out / "calibration.json").read_text())
    assert calibration["differential_threshold"] == differential["threshold"]
    assert "ddxplus" in (out / "README.md").read_text()
    # The structured cases' differential: a model of the answers, fitted on the training split,
    # stored in the artifact and scored on the same validation cases, full and partial.
    structured_metrics = metrics["validation_structured_differential"]
    for name in ("full_answers", "partial_answers"):
        assert structured_metrics[name]["n"] == differential["n"]
        assert 0.0 <= structured_metrics[name]["ddf1"] <= 1.0
    loaded = StructuredDifferential.load(out)
    assert loaded is not None
    assert len(loaded.conditions) == 49
    assert "model of the answers" in (out / "README.md").read_text()
    assert Classifier.load(out, device="cpu").structured is not None

    capsys.readouterr()  # the training's own epoch lines
    status = evaluate_main(
        ["--model", str(out), "--data", str(s2d), "--data", str(ddx), "--format", "json"]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "validation"  # both files are the model's own: their val splits
    assert report["n"] == metrics["validation"]["n"]
    assert report["per_source"]["ddxplus"]["differential"] == differential
    # The product's differential for structured cases, scored again by evaluate on the same
    # validation cases and the same short interviews: what training recorded.
    assert report["per_source"]["ddxplus"]["structured_differential"] == structured_metrics
    assert report["per_source"]["overall"]["structured_differential"] == structured_metrics
    assert "structured_differential" not in report["per_source"]["s2d"]

    assert evaluate_main(["--model", str(out), "--data", str(ddx), "--plots", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "structured differential, full answers" in text
    assert "structured differential, partial answers" in text


def test_target_distributions_put_the_differential_beside_the_label() -> None:
    import numpy as np

    from medconsult.ml.data import LABEL2ID, Example, dataset_from_examples, target_distributions

    examples = [
        Example("I sneeze", "Common Cold", "s2d"),
        Example("Age 30", "GERD", "ddxplus", differential=(("GERD", 0.5), ("Anemia", 0.5))),
    ]
    targets = target_distributions(dataset_from_examples(examples), 0.3)
    assert targets[0, LABEL2ID["common_cold"]] == 1.0
    assert targets[1, LABEL2ID["gerd"]] == pytest.approx(0.7 + 0.15)
    assert targets[1, LABEL2ID["anemia"]] == pytest.approx(0.15)
    assert np.allclose(targets.sum(axis=1), 1.0)


def test_training_precision_is_bf16_only_where_the_cpu_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(train_module, "cpu_has_native_bf16", lambda: True)
    assert train_module.training_autocast_dtype(cpu, "auto") == torch.bfloat16
    assert train_module.training_autocast_dtype(cpu, "fp32") is None
    # Evaluation and calibration keep fp32 on CPU whatever the training precision.
    assert train_module.autocast_dtype(cpu) is None
    monkeypatch.setattr(train_module, "cpu_has_native_bf16", lambda: False)
    assert train_module.training_autocast_dtype(cpu, "auto") is None


def test_length_grouped_batches_cover_every_window_once_with_little_padding() -> None:
    import random

    from medconsult.ml.train import length_grouped_batches

    draw = random.Random(7)
    lengths = [draw.choice([12, 30, 128]) + draw.randrange(8) for _ in range(1_003)]
    grouped = length_grouped_batches(lengths, 16, 50, random.Random(1))
    plain = length_grouped_batches(lengths, 16, 1, random.Random(1))
    for batches in (grouped, plain):
        assert len(batches) == -(-len(lengths) // 16)
        assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
        # Full batches but one (1,003 = 62 x 16 + 11), wherever the shuffle put it.
        assert sorted(len(batch) for batch in batches) == [11] + [16] * 62

    # Group 1: the plain shuffled order cut into batches, as training did before grouping.
    order = list(range(len(lengths)))
    random.Random(1).shuffle(order)
    assert plain == [order[i : i + 16] for i in range(0, len(order), 16)]

    def padded(batches: list[list[int]]) -> int:
        return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)

    assert padded(grouped) < 1.1 * sum(lengths) < padded(plain)
    # The batches are shuffled: long and short ones alternate through the epoch.
    firsts = [max(lengths[i] for i in batch) for batch in grouped[:20]]
    assert min(firsts) < 50 < max(firsts)
    # Repeatable for a seed.
    assert grouped == length_grouped_batches(lengths, 16, 50, random.Random(1))


@pytest.mark.slow  # two tiny cross-validation folds, then the tiny final model
def test_final_model_trains_on_every_row_with_the_out_of_fold_calibration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    from medconsult.ml.crossval import run_cv
    from medconsult.ml.errors import SettingError
    from medconsult.ml.evaluate import main as evaluate_main
    from medconsult.ml.testing import default_tiny_rows
    from medconsult.ml.train import TrainConfig, train

    s2d = tmp_path / "s2d.csv"
    with s2d.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("label", "text"), *default_tiny_rows(per_label=4)])
    ddx = _small_ddxplus(tmp_path / "ddxplus", 60)
    report = run_cv(
        [s2d, ddx],
        folds=2,
        seed=42,
        overrides={"tiny": True, "epochs": 1, "threads": 1},
        work_dir=tmp_path / "cv",
    )
    report_path = tmp_path / "cv.json"
    report_path.write_text(json.dumps(report), encoding="utf-8")
    final = report["final_calibration"]

    def config(**changes: object) -> TrainConfig:
        settings: dict[str, Any] = {
            "data": (s2d, ddx),
            "out": tmp_path / "final",
            "tiny": True,
            "epochs": 1,
            "threads": 1,
            "progress": False,
            "calibration_from": report_path,
            **changes,
        }
        return TrainConfig(**settings)

    # Another recipe or another report than the folds' is refused before training.
    with pytest.raises(SettingError, match=r"epochs 1 \(here 2\)"):
        train(config(epochs=2))
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({**report, "final_calibration": None}), encoding="utf-8")
    with pytest.raises(SettingError, match="every fold"):
        train(config(calibration_from=partial))

    out = train(config())
    args = json.loads((out / "training_args.json").read_text())
    assert args["n_train"] == report["n_rows"]
    assert args["n_val"] == 0
    assert args["best_epoch"] == 1
    calibration = json.loads((out / "calibration.json").read_text())
    for key in ("temperature", "threshold", "differential_temperature", "differential_threshold"):
        assert calibration[key] == final[key]
    assert (
        calibration["fitted_on"] == "out-of-fold predictions of a 2-fold cross-validation (seed 42)"
    )
    ood = json.loads((out / "ood.json").read_text())
    assert ood["threshold"] == final["ood_threshold"]
    assert ood["n_reference"] == report["n_rows"]  # every training case
    assert ood["validation_abstention_out_of_fold"] == final["abstention_cross_fitted"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "out-of-fold"
    assert metrics["validation"] == final["metrics"]
    assert metrics["history"][0]["val_loss"] is None
    card = (out / "README.md").read_text()
    assert "## Evaluation (out-of-fold, 2-fold cross-validation)" in card
    assert f"--calibration-from {report_path}" in card
    assert "calibrated together on the cross-validation folds' out-of-fold predictions" in card

    classifier = Classifier.load(out, device="cpu")
    assert classifier.temperature == final["temperature"]
    assert classifier.threshold == final["threshold"]
    assert classifier.ood is not None
    assert classifier.ood.threshold == final["ood_threshold"]
    assert classifier.suggest(["I have a rash with silvery scales on my elbows"])

    # No row of its own files was held out: evaluate says so instead of scoring training rows.
    capsys.readouterr()
    assert evaluate_main(["--model", str(out), "--data", str(s2d)]) == 2
    assert "trained on every row" in capsys.readouterr().err
    assert evaluate_main(["--model", str(out), "--data", str(s2d), "--split", "all"]) == 0
