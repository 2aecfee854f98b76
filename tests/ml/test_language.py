"""How much of a text is CJK, and when the English model should not read it."""

from __future__ import annotations

import pytest

from medconsult.ml.language import cjk_share, model_cannot_read


class TestCjkShare:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", 0.0),
            ("123 !?", 0.0),
            ("Chest pain", 0.0),
            ("胸痛", 1.0),
            ("体温38.5度，咳嗽。", 1.0),  # digits and punctuation do not count
            ("ab胸痛", 0.5),
        ],
    )
    def test_share_of_letters(self, text: str, expected: float) -> None:
        assert cjk_share(text) == pytest.approx(expected)


class TestModelCannotRead:
    @pytest.mark.parametrize(
        "text",
        [
            "我胸口压榨感，呼吸困难，已经半小时了。",
            "我在吃 ibuprofen，但是头痛还是很厉害，晚上睡不着。",  # an English drug name
        ],
    )
    def test_chinese_texts(self, text: str) -> None:
        assert model_cannot_read(text, 0.3)

    @pytest.mark.parametrize(
        "text",
        [
            "I have had a fever and a dry cough for three days.",
            "Headache since yesterday; my doctor wrote 偏头痛 on the note.",
        ],
    )
    def test_english_texts(self, text: str) -> None:
        assert not model_cannot_read(text, 0.3)
