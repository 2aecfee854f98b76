from __future__ import annotations

import re
import subprocess
import sys

import pytest

from medconsult.ml.data import LABELS, default_data_path, load_dataset
from medconsult.ml.labels import all_labels, canonical_key, get_label, search_labels
from medconsult.ml.types import URGENCY_ORDER

ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")


def test_69_labels_with_complete_metadata() -> None:
    labels = all_labels()
    assert len(labels) == 24 + 49 - 4  # four DDXPlus conditions merged into existing labels
    assert tuple(label.key for label in labels) == LABELS
    for label in labels:
        assert ICD10.match(label.icd10), label
        assert label.urgency in URGENCY_ORDER
        assert label.display_name
        assert label.description
        assert label.icd10_title


def test_every_raw_spelling_in_the_data_maps_to_a_label() -> None:
    symptom2disease = load_dataset(default_data_path())
    ddxplus = load_dataset(default_data_path().parents[1] / "ddxplus")
    assert symptom2disease.unknown_labels == {}
    assert ddxplus.unknown_labels == {}
    assert len(set(symptom2disease.labels)) == 24
    assert len(set(ddxplus.labels)) == 49
    assert set(symptom2disease.labels) | set(ddxplus.labels) == set(LABELS)


@pytest.mark.parametrize(
    ("ddxplus_name", "key"),
    [
        ("GERD", "gerd"),
        ("Pneumonia", "pneumonia"),
        ("Bronchospasm / acute asthma exacerbation", "bronchial_asthma"),
        ("URTI", "common_cold"),
    ],
)
def test_merged_conditions(ddxplus_name: str, key: str) -> None:
    label = get_label(key)
    assert canonical_key(ddxplus_name) == key
    assert label.ddxplus_name == ddxplus_name
    assert label.sources == ("symptom2disease", "ddxplus")


def test_urgency_follows_ddxplus_severity() -> None:
    from medconsult.ml import ddxplus

    raised = {"atrial_fibrillation", "copd_exacerbation", "bronchiolitis", "lung_cancer"}
    raised |= {"pancreatic_cancer", "bronchial_asthma", "pneumonia"}  # + merged: kept urgent
    rule = {1: "emergency", 2: "urgent", 3: "routine", 4: "routine", 5: "self-care"}
    conditions = ddxplus.load_conditions()
    for label in all_labels():
        if label.ddxplus_name is None:
            continue
        assert label.ddxplus_severity == conditions[label.ddxplus_name].severity
        expected = "urgent" if label.key in raised else rule[label.ddxplus_severity]
        assert label.urgency == expected, label.key
    assert get_label("heart_attack").urgency == "emergency"
    assert get_label("heart_attack").icd10 == "I21.9"
    assert get_label("cluster_headache").icd10 == "G44.0"  # ICD-10-CM G44.009 -> WHO G44.0


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Acne", "acne"),
        ("allergy", "allergy"),
        ("gastroesophageal reflux disease", "gerd"),
        ("Dimorphic Hemorrhoids", "hemorrhoids"),
        ("  Common_Cold ", "common_cold"),
        ("Migraine with aura", None),
    ],
)
def test_canonical_key(raw: str, key: str | None) -> None:
    assert canonical_key(raw) == key


def test_known_icd10_codes() -> None:
    assert get_label("psoriasis").icd10 == "L40.9"
    assert get_label("typhoid").icd10 == "A01.0"
    assert get_label("hemorrhoids").icd10 == "K64.9"
    assert get_label("common_cold").icd10 == "J00"


def test_get_label_unknown_key() -> None:
    with pytest.raises(KeyError, match="unknown diagnosis label 'flu'"):
        get_label("flu")


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("J45.9", "bronchial_asthma"),
        ("j45", "bronchial_asthma"),
        ("asthma", "bronchial_asthma"),
        ("GERD", "gerd"),
        ("reflux", "gerd"),
        ("varicose", "varicose_veins"),
        ("yellowing", "jaundice"),
    ],
)
def test_search_labels(query: str, first: str) -> None:
    results = search_labels(query)
    assert results, query
    assert results[0].key == first


def test_search_labels_empty_and_no_match() -> None:
    assert len(search_labels("", limit=100)) == 69
    assert search_labels("zzzz-no-such-thing") == []
    assert len(search_labels("", limit=3)) == 3


def test_torch_free_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import medconsult.ml, medconsult.ml.labels, medconsult.ml.types, medconsult.ml.triage\n"
        "import medconsult.ml.artifacts, medconsult.ml.commands, medconsult.ml.errors\n"
        "import medconsult.ml.data, medconsult.ml.card, medconsult.ml.options\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


class TestSearchInTheReadersLanguage:
    def test_finds_a_label_by_its_translated_name(self) -> None:
        names = {"Pneumonia": "肺炎"}

        found = search_labels("肺炎", translate=lambda name: names.get(name, name))

        assert [label.key for label in found] == ["pneumonia"]

    def test_without_translation_only_english_names_match(self) -> None:
        assert search_labels("肺炎") == []
