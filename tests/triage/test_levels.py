"""Three-level triage: emergency / see a doctor / self-care."""

from __future__ import annotations

import pytest

from medconsult.triage import levels
from medconsult.triage.levels import Settings, duration_days, level, see_doctor_reasons
from medconsult.triage.rules import find_flags

RULES = Settings(mode="rules", max_days=7)

SELF_CARE_TEXTS = [
    "Runny nose and sneezing for two days, otherwise fine.",
    "A mild sore throat since yesterday, I can eat and drink.",
    "I grazed my knee falling off my bike and cleaned it.",
    "A bruise on my arm from the door.",
    "Twisted my ankle, it's a bit swollen but I can walk on it.",
    "A small burn from the oven tray, I cooled it under the tap.",
    "Mosquito bites on my legs that itch.",
    "Hangover after drinking too much last night.",
    "My baby is teething and dribbling.",
    # more presentations of the NHS self-care and pharmacy pages
    "Chickenpox spots on my 4 year old, itchy but she's eating and playing.",
    "A verruca on the sole of my foot.",
    "I think my son has threadworms, his bottom is itchy at night.",
    "Earwax blocking my ear, sounds a bit muffled, no pain.",
    "Travel sickness on long car journeys.",
    "A stye on my upper eyelid, sore and red.",
    "Heat rash on my chest after a hot day.",
    "Hand, foot and mouth in my toddler, drinking fine.",
    "Aching muscles after starting a new gym routine.",
    "I stubbed my toe on the bed, it's fine now.",
    "Sinusitis with a blocked nose since yesterday.",
    "An eyelash in my eye, it's watering a bit.",
]
# The same words with a "see a GP if" cue of the NHS pages.
SEE_DOCTOR_TEXTS = [
    "Runny nose and a cough for four weeks now.",
    "Sore throat with white spots on my tonsils.",
    "I grazed my knee last week and now it's red, warm and full of pus.",
    "Bruises keep coming back and I don't know why.",
    "Twisted my ankle and I can't put weight on it.",
    "A lump in my breast.",
    "Diarrhoea for ten days.",
    "My cold is getting worse every day.",
    "Chickenpox in my 6 month old and he has a high temperature.",
    "A verruca that keeps coming back and bleeds.",
    "Earwax that isn't getting better, and now earache.",
    "A stye that is getting worse with redness spreading around my eye.",
    "Aching muscles after the gym that are not getting better after two weeks.",
]


class TestRulesAlone:
    @pytest.mark.parametrize("text", SELF_CARE_TEXTS)
    def test_self_care_presentations(self, text: str) -> None:
        assert level(text, flagged=False, settings=RULES) == "self_care"

    @pytest.mark.parametrize("text", SEE_DOCTOR_TEXTS)
    def test_see_a_doctor_cues_keep_it_from_self_care(self, text: str) -> None:
        assert see_doctor_reasons(text, max_days=7)
        assert level(text, flagged=False, settings=RULES) == "see_doctor"

    def test_anything_else_sees_a_doctor(self) -> None:
        assert level("Pain in my knee when I climb stairs.", flagged=False) == "see_doctor"

    def test_a_cold_night_is_not_a_cold(self) -> None:
        assert level("Temperature 35.8 after a cold night.", flagged=False, settings=RULES) == (
            "see_doctor"
        )

    def test_negated_cue_does_not_count(self) -> None:
        text = "A cold for three days, no blood and no breathlessness."

        assert see_doctor_reasons(text, max_days=7) == []
        assert level(text, flagged=False, settings=RULES) == "self_care"

    def test_a_red_flag_is_an_emergency_whatever_else(self) -> None:
        text = "Just a cold, but now crushing chest pain going down my left arm."

        assert find_flags(text)
        assert level(text, flagged=True, model_urgency="self-care") == "emergency"

    def test_duration_limit(self) -> None:
        text = "A cough for ten days, otherwise well."

        assert level(text, flagged=False, settings=Settings("rules", 14)) == "self_care"
        assert level(text, flagged=False, settings=Settings("rules", 7)) == "see_doctor"


class TestDurations:
    @pytest.mark.parametrize(
        ("text", "days"),
        [
            ("for three weeks", 21),
            ("since 2 days", 2),
            ("a cold for a couple of days", 2),
            ("on and off for months", 21),
            ("my 8 week old baby", None),
            ("a 6-year-old boy", None),
            ("no time given", None),
        ],
    )
    def test_longest_stated_duration(self, text: str, days: int | None) -> None:
        assert duration_days(text) == days


class TestWithTheModel:
    TEXT = "Feeling a bit under the weather with an itchy rash on my hands."

    @pytest.mark.parametrize(
        ("mode", "model_urgency", "expected"),
        [
            ("model", "self-care", "self_care"),
            ("model", "routine", "see_doctor"),
            ("rules", "self-care", "see_doctor"),
            ("either", "self-care", "self_care"),
            ("both", "self-care", "see_doctor"),
        ],
    )
    def test_modes(self, mode: levels.Mode, model_urgency: str, expected: str) -> None:
        settings = Settings(mode=mode, max_days=7)

        assert level(self.TEXT, flagged=False, model_urgency=model_urgency, settings=settings) == (
            expected
        )

    def test_either_mode_keeps_a_see_doctor_cue(self) -> None:
        settings = Settings(mode="either", max_days=7)
        text = "Spots on my face for six months."

        assert level(text, flagged=False, model_urgency="self-care", settings=settings) == (
            "see_doctor"
        )

    def test_both_needs_rules_and_model(self) -> None:
        settings = Settings(mode="both", max_days=7)
        text = "A runny nose and sneezing since yesterday."

        assert level(text, flagged=False, model_urgency="self-care", settings=settings) == (
            "self_care"
        )
        assert level(text, flagged=False, model_urgency="routine", settings=settings) == (
            "see_doctor"
        )

    def test_product_urgency_of_each_level(self) -> None:
        assert levels.urgency("emergency", "routine") == "emergency"
        assert levels.urgency("self_care", None) == "self-care"
        assert levels.urgency("see_doctor", "urgent") == "urgent"
        assert levels.urgency("see_doctor", "self-care") == "routine"
        assert levels.urgency("see_doctor", None) == "routine"

    def test_chosen_settings_are_readable(self) -> None:
        chosen = levels.settings()

        assert chosen.mode in levels.MODES
        assert chosen.max_days > 0


class TestChinese:
    @pytest.mark.parametrize(
        "text", ["感冒两天，流鼻涕、打喷嚏。", "小腿撞到桌子，青了一块。", "嗓子有点疼，能吃能喝。"]
    )
    def test_self_care_presentations(self, text: str) -> None:
        assert level(text, flagged=False, settings=RULES) == "self_care"

    @pytest.mark.parametrize(
        "text", ["感冒三个星期了，越来越严重。", "咳嗽，痰中带血。", "嗓子疼，扁桃体上有白点。"]
    )
    def test_see_a_doctor_cues(self, text: str) -> None:
        assert level(text, flagged=False, settings=RULES) == "see_doctor"

    def test_negated_chinese_cue_does_not_count(self) -> None:
        assert see_doctor_reasons("感冒两天，没有发烧，不咳血。", max_days=7) == []

    def test_age_is_not_a_duration(self) -> None:
        assert duration_days("6周大的宝宝") is None
        assert duration_days("咳嗽两个月") == 60
