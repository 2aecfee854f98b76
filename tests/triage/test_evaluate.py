"""``medconsult evaluate-triage`` on small CSVs of both shapes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from medconsult.cli import main

SEMIGRAN_COLUMNS = [
    "id",
    "triage",
    "diagnosis",
    "age",
    "sex",
    "symptoms",
    "source_note",
    "symptoms_status",
    "vignette",
]


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in columns})
    return path


@pytest.fixture
def semigran_like(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "cases.csv",
        SEMIGRAN_COLUMNS,
        [
            {
                "id": "E01",
                "triage": "emergent",
                "diagnosis": "Stroke",
                "age": "70 years",
                "sex": "male",
                "symptoms": "face drooping on one side, slurred speech",
                "vignette": "A 70-year-old man has slurred speech and his face droops on one side.",
            },
            {
                "id": "E02",
                "triage": "emergent",
                "diagnosis": "Something unusual",
                "age": "30 years",
                "sex": "female",
                "vignette": "A 30-year-old woman feels generally unwell.",
            },
            {
                "id": "N01",
                "triage": "non_emergent",
                "diagnosis": "Otitis",
                "age": "6 years",
                "sex": "female",
                "symptoms": "ear ache",
                "vignette": "A 6-year-old girl has ear ache.",
            },
            {
                "id": "S01",
                "triage": "self_care",
                "diagnosis": "Cold",
                "age": "25 years",
                "sex": "male",
                "vignette": "A 25-year-old man has a runny nose.",
            },
        ],
    )


class TestEvaluateTriage:
    def test_json_line_with_both_arms_paper_figures_and_misses(
        self, semigran_like: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(
            ["evaluate-triage", "--data", str(semigran_like), "--rules-only", "--format", "json"]
        )
        out = capsys.readouterr().out

        assert code == 0
        assert len(out.strip().splitlines()) == 1
        result = json.loads(out)
        assert result["paper_symptom_checkers"]["emergent"] == 0.80
        assert result["paper_symptom_checkers"]["overall"] == 0.57
        vignette = result["arms"]["vignette"]
        assert vignette["n"] == 4
        assert vignette["appropriate"]["emergent"] == 0.5
        assert vignette["appropriate"]["non_emergent"] == 1.0
        # A runny nose is self-care by the rules of the three-level triage.
        assert vignette["appropriate"]["self_care"] == 1.0
        assert vignette["appropriate"]["overall"] == 0.75
        assert vignette["emergent_missed"] == [{"id": "E02", "label": "Something unusual"}]
        simplified = result["arms"]["simplified"]
        assert simplified["n"] == 2
        assert simplified["appropriate"]["emergent"] == 1.0

    def test_text_report(self, semigran_like: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["evaluate-triage", "--data", str(semigran_like), "--rules-only"]) == 0

        out = capsys.readouterr().out

        assert "paper" in out
        assert "emergent cases missed: E02 (Something unusual)" in out

    def test_development_set_shape(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        data = _write(
            tmp_path / "dev.csv",
            ["id", "triage", "category", "text"],
            [
                {"id": "E1", "triage": "emergent", "text": "I want to end my life."},
                {"id": "N1", "triage": "non_emergent", "text": "No thoughts of ending my life."},
            ],
        )

        main(["evaluate-triage", "--data", str(data), "--rules-only", "--format", "json"])
        result = json.loads(capsys.readouterr().out)

        assert result["arms"]["text"]["appropriate"]["emergent"] == 1.0
        assert result["arms"]["text"]["appropriate"]["non_emergent"] == 1.0

    def test_with_a_model_its_answers_take_part(
        self, semigran_like: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        args = ["evaluate-triage", "--data", str(semigran_like), "--rules-only"]
        code = main([*args, "--model", str(tiny_model_dir), "--format", "json"])
        result = json.loads(capsys.readouterr().out)

        assert code == 0
        assert result["model"] == str(tiny_model_dir)
        assert result["levels"]["mode"] in ("rules", "model", "either", "both")
        # Red flags decide emergencies whatever the model says.
        assert result["arms"]["vignette"]["appropriate"]["emergent"] == 0.5
        assert result["arms"]["vignette"]["n"] == 4

    def test_bad_file_is_a_clear_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        data = _write(tmp_path / "x.csv", ["id", "triage"], [{"id": "1", "triage": "later"}])

        assert main(["evaluate-triage", "--data", str(data), "--rules-only"]) == 2
        assert "unknown triage" in capsys.readouterr().err
