"""``medconsult evaluate-interview`` on the repository's DDXPlus rows (a few held-out patients),
and the pages when the questionnaire cannot be read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.cli import main
from medconsult.config import get_settings
from tests import factories
from tests.interview.conftest import Cast


class TestEvaluateInterview:
    def test_one_json_line_with_the_figures(self, capsys: pytest.CaptureFixture[str]) -> None:
        code = main(
            [
                "evaluate-interview",
                "--data",
                "data/ddxplus/patients.csv",
                "--limit",
                "12",
                "--format",
                "json",
            ]
        )

        lines = capsys.readouterr().out.strip().splitlines()
        assert code == 0
        assert len(lines) == 1
        report = json.loads(lines[0])
        assert report["patients_scored"] == 12
        assert report["patients_fitted"] > 1000
        assert 0 < report["mean_questions"] <= report["max_questions"] == 20
        assert 0.0 <= report["gtpa1_interview"] <= 1.0
        assert 0.0 <= report["gtpa1_full_evidence"] <= 1.0
        assert sum(report["stop_reasons"].values()) == 12

    def test_a_missing_file_is_a_clear_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(["evaluate-interview", "--data", str(tmp_path / "patients.csv")])

        assert code == 2
        assert "evaluate-interview:" in capsys.readouterr().err


class TestQuestionnaireMissing:
    @pytest.fixture
    def no_questionnaire(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("MEDCONSULT_INTERVIEW_DATA_DIR", str(tmp_path))
        get_settings.cache_clear()
        yield
        monkeypatch.delenv("MEDCONSULT_INTERVIEW_DATA_DIR")
        get_settings.cache_clear()

    @pytest.mark.usefixtures("no_questionnaire")
    def test_the_consultation_page_still_works_and_the_api_says_503(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)

        page = client.get(f"/consultations/{cast.consultation.id}")
        start = client.post(
            f"/api/v1/consultations/{cast.consultation.id}/interview",
            headers={"X-CSRF-Token": token},
        )

        assert page.status_code == 200
        assert "Start the questions" not in page.text
        assert start.status_code == 503
