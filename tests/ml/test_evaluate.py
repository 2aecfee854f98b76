from __future__ import annotations

import json
from pathlib import Path

import pytest

from medconsult.ml.evaluate import main

METRIC_KEYS = (
    "n",
    "accuracy",
    "macro_f1",
    "top3_accuracy",
    "ece",
    "abstain_rate",
    "precision_when_answered",
)


def _training_csv(artifact: Path) -> Path:
    return Path(json.loads((artifact / "training_args.json").read_text())["data"])


def test_json_report_on_the_validation_split(
    tiny_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _training_csv(tiny_artifact)
    status = main(
        [
            "--model",
            str(tiny_artifact),
            "--data",
            str(data),
            "--format",
            "json",
            "--int8",
            "--bf16",
        ]
    )
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    for key in (*METRIC_KEYS, "unknown_labels"):
        assert key in report
    assert report["split"] == "validation"
    args = json.loads((tiny_artifact / "training_args.json").read_text())
    assert report["n"] == args["n_val"]
    for key in METRIC_KEYS:
        assert key in report["baseline"]
        assert key in report["int8"]
        assert key in report["bf16"]
    assert 0.0 <= report["int8"]["agreement_with_fp32"] <= 1.0
    # bf16 keeps the fp32 decisions on the tiny model's validation rows.
    assert report["bf16"]["agreement_with_fp32"] >= 0.95
    assert report["bf16"]["max_abs_probability_difference"] < 0.05
    assert report["served_precision"] in ("fp32", "bf16")
    # Every wrong first choice is listed, most confident first, with what explains it.
    assert report["errors_total"] == round((1 - report["accuracy"]) * report["n"])
    assert report["errors_total"] > 0  # the tiny model is far from perfect
    probabilities = [error["probability"] for error in report["errors"]]
    assert probabilities == sorted(probabilities, reverse=True)
    for error in report["errors"]:
        assert error["predicted"] != error["label"]
        assert error["label_probability"] <= error["probability"]
        if abs(error["probability"] - report["threshold"]) > 1e-4:  # listed rounded to 4 places
            assert error["abstained"] == (error["probability"] < report["threshold"])
        assert error["predicted_in_differential"] is None  # free text: no ground-truth list
        assert 0 < len(error["text"]) <= 200


def test_other_csv_is_scored_whole_and_unknown_labels_counted(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.csv"
    other.write_text(
        "label,text\n"
        "Common Cold,I keep sneezing and my nose runs\n"
        "Acne,Blackheads on my chin\n"
        "Gout,A hot swollen big toe\n"
    )
    assert main(["--model", str(tiny_artifact), "--data", str(other), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "all"
    assert report["n"] == 2
    assert report["unknown_labels"] == 1
    assert report["unknown_label_names"] == {"Gout": 1}
    assert report["baseline"]["n"] == 2  # fitted on the model's recorded training split


def test_text_report_writes_plots(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _training_csv(tiny_artifact)
    plots = tmp_path / "plots"
    assert main(["--model", str(tiny_artifact), "--data", str(data), "--plots", str(plots)]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out
    assert "baseline" in out
    for name in ("confusion_matrix.png", "reliability_diagram.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_csv_exits_2(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["--model", str(tiny_artifact), "--data", str(bad), "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert "needs columns 'label' and 'text'" in err
    assert "Traceback" not in err
