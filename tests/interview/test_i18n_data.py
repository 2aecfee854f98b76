"""The reviewed Chinese translation of the DDXPlus questionnaire is complete and well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "ddxplus"
ZH = REPO / "src" / "medconsult" / "interview" / "i18n" / "zh_CN.json"
_HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def translation() -> dict[str, dict[str, object]]:
    return json.loads(ZH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def evidences() -> dict[str, dict[str, object]]:
    return json.loads((DATA / "release_evidences.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


class TestQuestionnaireTranslation:
    def test_every_question_is_translated(
        self, translation: dict[str, dict[str, object]], evidences: dict[str, dict[str, object]]
    ) -> None:
        translated = translation["evidences"]

        missing = [
            code
            for code in evidences
            if not _HAN.search(str(translated.get(code, {}).get("question", "")))  # type: ignore[union-attr]
        ]

        assert missing == []
        assert set(translated) == set(evidences), "no evidence the data set does not have"

    def test_every_value_meaning_is_translated(
        self, translation: dict[str, dict[str, object]], evidences: dict[str, dict[str, object]]
    ) -> None:
        missing = []
        for code, evidence in evidences.items():
            values = translation["evidences"][code]["values"]  # type: ignore[index]
            for value in evidence.get("value_meaning", {}):  # type: ignore[union-attr]
                if not str(values.get(value, "")).strip():
                    missing.append(f"{code}/{value}")
            assert set(values) == set(evidence.get("value_meaning", {})), code  # type: ignore[arg-type]

        assert missing == []

    def test_every_condition_has_a_chinese_name(
        self, translation: dict[str, dict[str, object]]
    ) -> None:
        conditions = json.loads((DATA / "release_conditions.json").read_text(encoding="utf-8"))
        names = {condition["cond-name-eng"] for condition in conditions.values()}

        translated = translation["conditions"]

        assert len(names) == 49
        assert set(translated) == names
        assert [name for name in names if not _HAN.search(str(translated[name]))] == []

    def test_yes_and_no_are_not_swapped(self, translation: dict[str, dict[str, object]]) -> None:
        values = translation["evidences"]["E_135"]["values"]  # type: ignore[index]

        assert values == {"V_10": "否", "V_12": "是"}
