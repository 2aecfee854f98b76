from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medconsult.triage.rules import CATEGORIES, find_flags, sentence_at
from medconsult.triage.rules_zh import is_negated, is_past

DEV_SET_ZH = Path(__file__).resolve().parents[2] / "data" / "triage" / "dev_zh.csv"

# (category, a Chinese text that must raise it, the same words negated or harmless)
CASES_ZH = [
    ("chest_pain", "胸口压榨感，喘不过气。", "没有胸痛，只是流鼻涕。"),
    ("chest_pain", "胸痛放射到左臂，出了一身冷汗。", "否认胸痛、胸闷及大汗。"),
    ("stroke", "她突然口角歪斜，言语不清。", "没有口角歪斜，说话也清楚，无言语不清。"),
    ("stroke", "爷爷左边胳膊突然没劲，抬不起来。", "否认肢体无力、言语不清。"),
    ("thunderclap_headache", "突然剧烈头痛，像被打了一下。", "有点头痛，不是突然剧烈头痛。"),
    ("meningitis", "发烧，脖子僵硬，怕光。", "脖子僵硬是落枕，不发烧，也不怕光。"),
    ("meningitis", "身上的红点用玻璃杯压也不褪色。", "无瘀点瘀斑。"),
    ("anaphylaxis", "吃了虾以后喉咙发紧，舌头肿了。", "喉咙没有发紧，舌头也没有肿。"),
    ("anaphylaxis", "嘴唇肿了，喘不上气。", "嘴唇干裂，没有肿，也没有呼吸困难。"),
    ("overdose_poisoning", "她吞了很多药。", "没有吞很多药，按说明书吃了两片。"),
    ("overdose_poisoning", "孩子喝了农药。", "没有误服农药或消毒液。"),
    ("suicidal", "我想自杀。", "我不想自杀。"),
    ("suicidal", "活不下去了，想轻生。", "从来没有想过轻生。"),
    ("self_harm", "他又在自残，用刀片划自己。", "否认自残。"),
    ("severe_bleeding", "今天呕血，大便是黑色的。", "没有呕血，也没有黑便。"),
    ("severe_bleeding", "怀孕八周，阴道出血。", "怀孕八周，没有出血。"),
    ("sepsis", "发烧以后皮肤发花，一整天没有小便。", "皮肤没有发花，小便正常。"),
    ("sepsis", "发高烧，现在意识模糊。", "不发烧，意识清楚。"),
    ("breathing", "呼吸困难，嘴唇发紫。", "无呼吸困难，嘴唇颜色正常。"),
    ("breathing", "哮喘发作，吸入器不管用。", "哮喘控制得好，没有发作。"),
    ("altered_consciousness", "他晕倒了，叫不醒。", "没有晕倒过，只是有点累。"),
    ("seizure", "孩子抽搐，口吐白沫。", "没有抽搐。"),
    ("head_injury", "摔倒撞到头，吐了两次。", "撞到头，没有呕吐，也没有嗜睡。"),
    ("diabetic_emergency", "糖尿病人，尿酮很高，一直呕吐。", "糖尿病，没有酮体，血糖正常。"),
    ("cauda_equina", "腰痛，而且大小便失禁。", "腰痛，大小便正常，没有大小便失禁。"),
    ("ectopic_pregnancy", "怀孕六周，一侧下腹痛。", "怀孕六周，没有腹痛。"),
    ("testicular_torsion", "睾丸突然剧痛。", "睾丸没有疼痛，只是有个小疙瘩。"),
    ("severe_abdominal_pain", "肚子剧烈疼痛，疼得直不起腰。", "没有剧烈腹痛，只是有点胀。"),
    ("infant_fever", "三周大的宝宝发烧了。", "三周大的宝宝不发烧，吃奶好。"),
    ("severe_burn", "开水烫伤，一大片，比手掌大的烫伤。", "没有烫伤，只是晒黑了。"),
    ("vision_loss", "左眼突然看不见了。", "视力没有突然下降，只是眼睛干。"),
    ("ingestion", "孩子吞了纽扣电池。", "孩子没有吞纽扣电池，电池都在盒子里。"),
    ("vital_signs", "血氧只有86%。", "血氧98%，心率70。"),
    ("severe_pain", "摔倒后腿疼得受不了，疼痛评分9分。", "腿有点疼，疼痛评分3分。"),
    ("severe_pain", "他疼得满地打滚。", "没有剧痛，只是有点酸。"),
    ("serious_injury", "从梯子上摔下来，骨头戳出来了。", "手腕扭了一下，没有变形。"),
    ("pregnancy_warning", "怀孕32周，胎动明显减少。", "怀孕28周，胎动正常。"),
    ("harm_to_others", "他说有声音叫他去杀人。", "从没想过伤害别人。"),
]


class TestChineseCategories:
    @pytest.mark.parametrize(("category", "text", "_negative"), CASES_ZH)
    def test_positive_raises_the_category(self, category: str, text: str, _negative: str) -> None:
        flags = find_flags(text)

        assert category in {flag.category for flag in flags}, text

    @pytest.mark.parametrize(("category", "_positive", "text"), CASES_ZH)
    def test_negated_raises_nothing(self, category: str, _positive: str, text: str) -> None:
        assert find_flags(text) == [], text

    def test_every_category_is_covered(self) -> None:
        assert {case[0] for case in CASES_ZH} == set(CATEGORIES)


class TestChineseNegation:
    def test_negation_runs_over_an_enumeration(self) -> None:
        text = "否认胸痛、呼吸困难、呕血。"

        assert is_negated(text, text.index("呕血"))

    def test_negation_ends_at_the_clause(self) -> None:
        text = "没有发烧，但是胸口压榨感。"

        assert not is_negated(text, text.index("胸口"))
        assert [flag.category for flag in find_flags(text)] == ["chest_pain"]

    def test_bu_negates_only_next_to_the_finding(self) -> None:
        text = "不知道为什么，我想自杀"

        assert not is_negated(text, text.index("想自杀"))
        assert is_negated("我不想自杀", 2)

    def test_inability_is_a_finding_not_a_negation(self) -> None:
        assert [flag.category for flag in find_flags("我无法呼吸")] == ["breathing"]
        assert [flag.category for flag in find_flags("血止不住")] == ["severe_bleeding"]

    def test_past_findings_are_not_todays_emergency(self) -> None:
        text = "去年中风过，现在复查。"

        assert is_past(text, text.index("中风"), text.index("中风") + 2)
        assert find_flags(text) == []
        assert find_flags("有癫痫病史，今天没有发作。") == []

    def test_sentence_of_a_chinese_flag(self) -> None:
        text = "我咳嗽三天了。今天早上吐血了！现在好一点。"
        [flag] = find_flags(text)

        assert flag.category == "severe_bleeding"
        assert flag.sentence == "今天早上吐血了！"
        assert sentence_at(text, text.index("现在")) == "现在好一点。"

    def test_decimal_point_is_not_a_clause_end(self) -> None:
        assert [flag.category for flag in find_flags("糖尿病，血糖2.1，出冷汗")] == [
            "diabetic_emergency"
        ]

    def test_chronic_or_usual_severe_pain_is_not_an_emergency(self) -> None:
        assert find_flags("老毛病了，腰痛7分，想开点止痛药。") == []
        assert find_flags("痛经还是和以前一样，疼得厉害，吃布洛芬有效。") == []
        assert find_flags("牙疼得受不了两天了，想看牙医。") == []

    def test_food_poisoning_is_not_an_emergency(self) -> None:
        assert find_flags("吃坏了东西，可能是食物中毒，拉肚子。") == []


class TestChineseDevelopmentSet:
    def test_every_emergency_flagged_and_few_false_alarms(self) -> None:
        with DEV_SET_ZH.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))

        missed = [r["id"] for r in rows if r["triage"] == "emergent" and not find_flags(r["text"])]
        alarms = [r["id"] for r in rows if r["triage"] != "emergent" and find_flags(r["text"])]

        assert len(rows) >= 100
        assert {r["category"] for r in rows if r["triage"] == "emergent"} == set(CATEGORIES)
        assert missed == []
        assert len(alarms) <= 0.05 * sum(r["triage"] != "emergent" for r in rows)
