"""The DDXPlus loader and renderer on real rows of data/ddxplus."""

from __future__ import annotations

import ast
import csv
import sys
from pathlib import Path

import pytest

from medconsult.ml import ddxplus
from medconsult.ml.data import (
    DDXPlusSource,
    LabelTextCsvSource,
    Source,
    default_data_path,
    load_dataset,
    load_datasets,
    source_for,
)
from medconsult.ml.errors import DataFormatError

FOLDER = ddxplus.default_folder()


@pytest.fixture(scope="module")
def questionnaire() -> ddxplus.Questionnaire:
    return ddxplus.load_questionnaire(FOLDER)


@pytest.fixture(scope="module")
def patients() -> list[ddxplus.Patient]:
    return ddxplus.load_patients(FOLDER, limit=20)


def first_rows(n: int) -> list[dict[str, str]]:
    with (FOLDER / "patients.csv").open(encoding="utf-8") as handle:
        return [row for _, row in zip(range(n), csv.DictReader(handle), strict=False)]


class TestQuestionnaire:
    def test_every_evidence_with_its_kind(self, questionnaire: ddxplus.Questionnaire) -> None:
        assert len(questionnaire) == 223
        kinds = {name: evidence.kind for name, evidence in questionnaire.evidences.items()}
        assert kinds["E_9"] == "binary"
        assert kinds["E_54"] == "multiple"
        assert kinds["E_130"] == "categorical"
        assert kinds["E_56"] == "scale"
        assert sum(kind == "binary" for kind in kinds.values()) == 208

    def test_values_meanings_scale_and_defaults(self, questionnaire: ddxplus.Questionnaire) -> None:
        pain_character = questionnaire["E_54"]
        assert pain_character.question_en == "Characterize your pain:"
        assert pain_character.value("V_181").en == "burning"
        assert pain_character.value("V_181").fr == "une brûlure"
        assert pain_character.value("V_112").en == "shooting"  # corrected from "haunting"
        assert pain_character.default == "V_11"
        assert "V_11" not in {value.code for value in pain_character.present_values}
        intensity = questionnaire["E_56"]
        assert intensity.scale == (0, 10)
        assert intensity.default == 0
        assert questionnaire["E_9"].default is False

    def test_follow_up_questions(self, questionnaire: ddxplus.Questionnaire) -> None:
        assert questionnaire["E_54"].parent == "E_53"
        assert set(questionnaire.children("E_53")) == {
            "E_54",
            "E_55",
            "E_56",
            "E_57",
            "E_58",
            "E_59",
        }
        assert "E_53" in questionnaire.roots()
        assert "E_54" not in questionnaire.roots()
        assert questionnaire["E_204"].is_antecedent

    def test_unknown_evidence(self, questionnaire: ddxplus.Questionnaire) -> None:
        with pytest.raises(KeyError, match="unknown DDXPlus evidence 'E_999'"):
            questionnaire["E_999"]


class TestConditions:
    def test_49_conditions_with_upper_case_split_codes(self) -> None:
        conditions = ddxplus.load_conditions(FOLDER)
        assert len(conditions) == 49
        assert conditions["Pneumonia"].icd10 == ("J17", "J18")
        assert conditions["Cluster headache"].icd10 == ("G44.009",)
        assert conditions["Possible NSTEMI / STEMI"].severity == 1
        assert conditions["Panic attack"].severity == 5
        assert conditions["Anaphylaxis"].name_fr == "Anaphylaxie"
        for condition in conditions.values():
            assert 1 <= condition.severity <= 5
            assert all(code == code.upper() and " " not in code for code in condition.icd10)

    @pytest.mark.parametrize(
        ("raw", "codes"), [("j17, j18", ("J17", "J18")), ("a15", ("A15",)), ("I48.91", ("I48.91",))]
    )
    def test_split_icd10(self, raw: str, codes: tuple[str, ...]) -> None:
        assert ddxplus.split_icd10(raw) == codes


class TestPatients:
    def test_first_row_parsed_structurally(self, patients: list[ddxplus.Patient]) -> None:
        row = first_rows(1)[0]
        patient = patients[0]
        assert (patient.age, patient.sex, patient.pathology) == (11, "F", "HIV (initial infection)")
        assert patient.initial_evidence == "E_88"
        assert patient.evidences["E_9"] is True
        assert patient.evidences["E_54"] == ["V_161", "V_198"]  # multiple choice: a list
        assert patient.evidences["E_56"] == 4  # scale: a number
        assert patient.evidences["E_130"] == "V_138"  # categorical: one value
        features = ast.literal_eval(row["features"])
        assert len(patient.evidences) == len({f.partition("_@_")[0] for f in features})

    def test_differential_from_top5_diagnoses(self, patients: list[ddxplus.Patient]) -> None:
        for patient, row in zip(patients, first_rows(len(patients)), strict=True):
            expected = sorted(ast.literal_eval(row["top5_diagnoses"]), key=lambda p: -p[1])
            assert [name for name, _ in patient.differential] == [name for name, _ in expected]
            probabilities = [p for _, p in patient.differential]
            assert probabilities == sorted(probabilities, reverse=True)
            assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
        assert patients[0].differential[0] == ("Anemia", pytest.approx(0.39794717634034926))

    def test_limit_and_bad_rows(self, tmp_path: Path) -> None:
        assert len(ddxplus.load_patients(FOLDER, limit=3)) == 3
        for name in ("release_evidences.json", "release_conditions.json"):
            (tmp_path / name).write_bytes((FOLDER / name).read_bytes())
        (tmp_path / "patients.csv").write_text(
            "age,sex,diagnosis,features,top5_diagnoses,feature_id\n"
            '30,M,URTI,"[\'E_999\']","[]",E_999\n'
        )
        with pytest.raises(DataFormatError, match="line 2: unknown DDXPlus evidence 'E_999'"):
            ddxplus.load_patients(tmp_path)


class TestRender:
    def test_the_issue_example(self, questionnaire: ddxplus.Questionnaire) -> None:
        answers: ddxplus.Answers = {
            "E_53": True,
            "E_54": ["V_161"],
            "E_55": ["V_101"],
            "E_57": ["V_31"],
            "E_56": 7,
        }
        text = ddxplus.render(answers, questionnaire, age=54, sex="M")
        assert text == (
            "Age 54, male. Pain: tender; in the upper chest; radiating to the left biceps; "
            "intensity 7/10."
        )

    def test_first_patient_reads_as_english(
        self, patients: list[ddxplus.Patient], questionnaire: ddxplus.Questionnaire
    ) -> None:
        text = ddxplus.render_patient(patients[0], questionnaire)
        assert text.startswith(
            "Age 11, female. Pain: tender, exhausting; in the back of head and top of the head; "
            "intensity 4/10; precisely located 7/10; sudden onset 1/10. Rash or skin lesions: "
            "pale; on the lower gum, upper gum, right labia majora, left labia majora and right "
            "internal cheek; larger than 1 cm; pain 2/10; itching 0/10; swelling 0/10."
        )
        assert "I have swollen or painful lymph nodes." in text
        assert "Travelled out of the country in the last 4 weeks: no." in text
        assert "E_" not in text
        assert "V_" not in text
        assert "_@_" not in text

    def test_no_codes_in_any_rendering(
        self, patients: list[ddxplus.Patient], questionnaire: ddxplus.Questionnaire
    ) -> None:
        for patient in patients:
            text = ddxplus.render_patient(patient, questionnaire)
            assert "E_" not in text
            assert "V_" not in text
            assert " NA" not in text
            assert text == ddxplus.render(
                dict(reversed(list(patient.evidences.items()))),
                questionnaire,
                age=patient.age,
                sex=patient.sex,
            )  # questionnaire order, whatever the answers' order

    def test_answers_no_and_follow_ups_at_defaults(
        self, questionnaire: ddxplus.Questionnaire
    ) -> None:
        text = ddxplus.render({"E_91": False, "E_53": False}, questionnaire)
        assert "Do you have a fever (either felt or measured with a thermometer)? No." in text
        assert "Pain: no." in text
        # Pain follow-ups at their "absent" values without the pain question: nothing to say.
        assert ddxplus.render({"E_54": ["V_11"], "E_55": ["V_123"], "E_56": 0}, questionnaire) == ""

    @pytest.mark.parametrize(
        ("question", "expected"),
        [
            ("Do you have a cough?", "I have a cough."),
            ("Have you ever had pneumonia?", "I have had pneumonia."),
            ("Are you immunosuppressed?", "I am immunosuppressed."),
            ("Did you lose consciousness?", "I lost consciousness."),
            (
                "Is your nose or the back of your throat itchy?",
                "My nose or the back of my throat itchy.",
            ),
            ("In the last month, have you been in contact with anyone?", None),
        ],
    )
    def test_statement(self, question: str, expected: str | None) -> None:
        assert ddxplus.statement(question) == expected


class TestSources:
    def test_both_formats_are_sources(self) -> None:
        ddx = source_for(FOLDER)
        s2d = source_for(default_data_path())
        assert isinstance(ddx, DDXPlusSource)
        assert isinstance(ddx, Source)
        assert isinstance(s2d, LabelTextCsvSource)
        assert isinstance(s2d, Source)
        assert (ddx.name, s2d.name) == ("ddxplus", "symptom2disease")
        example = next(ddx.examples())
        assert example.evidences is not None
        assert example.evidences["E_56"] == 4
        assert example.differential is not None
        assert example.differential[0][0] == "Anemia"
        assert next(s2d.examples()).evidences is None

    def test_combined_data_set_keeps_sources_and_differentials(self) -> None:
        dataset = load_datasets([default_data_path(), FOLDER])
        assert len(dataset) == 922 + 1974
        assert dataset.source_names == ["symptom2disease", "ddxplus"]
        assert dataset.differential_of(0) is None
        differential = dataset.differential_of(922)
        assert differential is not None
        assert [key for key, _ in differential] == [
            "anemia",
            "hiv_initial_infection",
            "chagas_disease",
            "scombroid_poisoning",
            "sarcoidosis",
        ]
        subset = dataset.subset([0, 922])
        assert [subset.source_of(0), subset.source_of(1)] == ["symptom2disease", "ddxplus"]
        assert load_dataset(FOLDER / "patients.csv").format == "ddxplus"


def test_the_module_imports_no_torch() -> None:
    import subprocess

    code = (
        "import sys, medconsult.ml.ddxplus, medconsult.ml.data; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_partial_answers_keep_the_complaint_and_whole_groups(
    patients: list[ddxplus.Patient], questionnaire: ddxplus.Questionnaire
) -> None:
    import random

    rng = random.Random(0)
    patient = patients[0]
    sizes = set()
    for _ in range(20):
        answers = ddxplus.partial_answers(
            patient.evidences, questionnaire, rng, keep=[patient.initial_evidence]
        )
        sizes.add(len(answers))
        assert patient.initial_evidence in answers
        assert all(patient.evidences[name] == value for name, value in answers.items())
        pain = {"E_53", *questionnaire.children("E_53")} & set(patient.evidences)
        assert pain <= set(answers) or not pain & set(answers)  # the pain group whole or absent
    assert len(sizes) > 3  # subsets of varying size
    everything = ddxplus.partial_answers(patient.evidences, questionnaire, rng, fraction=1.0)
    assert everything == patient.evidences
