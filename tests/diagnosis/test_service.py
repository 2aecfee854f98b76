"""Diagnosis service: the analysed text, stored suggestions, the patient's view."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medconsult.consultations.models import Consultation, ReportFile, Urgency
from medconsult.diagnosis import service
from medconsult.diagnosis.models import AISuggestion
from tests import factories
from tests.consultations.samples import suggestion


def _consultation(session: Session) -> Consultation:
    consultation = factories.create_consultation(
        session, patient=factories.create_patient(session), history="Fever and cough."
    )
    consultation.past_history = "Asthma."
    consultation.current_medications = "Salbutamol."
    session.add(
        ReportFile(
            consultation_id=consultation.id,
            original_name="xray.txt",
            content_type="text/plain; charset=utf-8",
            size_bytes=10,
            sha256="0" * 64,
            storage_key="abc123",
            extracted_text="Right lower lobe opacity.",
        )
    )
    session.flush()
    session.refresh(consultation)
    return consultation


class TestComposeAnalysedText:
    def test_patient_sections_first_then_reports(self, session: Session) -> None:
        consultation = _consultation(session)

        composed = service.compose_analysed_text(consultation, max_chars=10_000)

        assert composed == (
            "Chief complaint: Cough and fever\n\n"
            "History of the present illness: Fever and cough.\n\n"
            "Past history: Asthma.\n\n"
            "Current medications: Salbutamol.\n\n"
            "Report: Right lower lobe opacity."
        )

    def test_bounded_by_the_classifier_limit(self, session: Session) -> None:
        consultation = _consultation(session)

        composed = service.compose_analysed_text(consultation, max_chars=40)

        assert len(composed) <= 40
        assert composed.startswith("Chief complaint")


class TestWithoutSectionTitles:
    def test_titles_become_spaces_and_the_patients_words_stay_in_place(self) -> None:
        text = (
            "Chief complaint: Fever\n\nHistory of the present illness: my chief complaint: "
            "chills\n\nIntake questionnaire: Age 40, male.\n\nReport: CRP 80"
        )

        read = service.without_section_titles(text)

        assert len(read) == len(text)
        assert read.split() == [
            "Fever", "my", "chief", "complaint:", "chills", "Age", "40,", "male.", "CRP", "80"
        ]  # fmt: skip
        for word in ("Fever", "chills", "CRP 80"):
            assert read.index(word) == text.index(word)
        assert service.without_section_titles(read) == read
        assert service.without_section_titles("no titles here") == "no titles here"


class TestEvidenceOutsideTitles:
    def test_spans_on_section_titles_are_dropped(self) -> None:
        text = "Chief complaint: Fever\n\nHistory of the present illness: chills at night"
        on_title = {"start": 6, "end": 15, "text": "complaint", "score": 0.9}
        on_words = {
            "start": text.index("chills"),
            "end": text.index("chills") + 6,
            "text": "chills",
            "score": 0.5,
        }

        kept = service.evidence_outside_titles([on_title, on_words], text)

        assert kept == [on_words]

    def test_title_words_in_the_patients_own_text_are_kept(self) -> None:
        text = "History of the present illness: my chief complaint: Report: headache"
        start = text.index("chief complaint")
        span = {"start": start, "end": start + 15, "text": "chief complaint", "score": 0.4}

        assert service.evidence_outside_titles([span], text) == [span]


class TestStoreSuggestion:
    def test_stores_the_differential_with_each_labels_urgency(self, session: Session) -> None:
        consultation = _consultation(session)
        stored = service.store_suggestion(
            session, consultation=consultation, suggestion=suggestion(), analysed_text="a"
        )
        session.expire(stored)

        assert [(row["label"], row["urgency"]) for row in stored.differential] == [
            ("pneumonia", "urgent"),
            ("common_cold", "self-care"),
            ("bronchial_asthma", "routine"),
        ]
        assert stored.differential[0]["probability"] == 0.7
        assert stored.ranked[0]["urgency"] == "urgent"

    def test_supersedes_the_previous_and_syncs_urgency(self, session: Session) -> None:
        consultation = _consultation(session)
        first = service.store_suggestion(
            session, consultation=consultation, suggestion=suggestion(), analysed_text="a"
        )

        second = service.store_suggestion(
            session,
            consultation=consultation,
            suggestion=suggestion(urgency="emergency", model_version="v2"),
            analysed_text="b",
        )

        session.refresh(first)
        assert not first.is_current
        assert first.superseded_at is not None
        assert second.is_current
        assert second.model_version == "v2"
        assert second.ranked[0]["label"] == "pneumonia"
        assert consultation.urgency is Urgency.emergency
        assert consultation.urgency_rank == 0
        current = session.scalar(
            select(func.count())
            .select_from(AISuggestion)
            .where(AISuggestion.consultation_id == consultation.id, AISuggestion.is_current)
        )
        assert current == 1


class TestConfidenceBand:
    @pytest.mark.parametrize(
        ("probability", "rank", "band"),
        [
            (0.8, 0, "most_likely"),
            (0.8, 1, "possible"),
            (0.3, 0, "possible"),
            (0.1, 0, "less_likely"),
            (0.05, 2, "less_likely"),
        ],
    )
    def test_bands(self, probability: float, rank: int, band: str) -> None:
        assert service.confidence_band(probability, rank=rank) == band


class TestAbstainedBand:
    def test_no_most_likely_when_the_model_abstained(self) -> None:
        assert service.confidence_band(0.9, rank=0, abstained=True) == "possible"
        assert service.confidence_band(0.9, rank=0, abstained=False) == "most_likely"


class TestPatientView:
    def test_top_three_with_words_and_red_flag_reasons(self, session: Session) -> None:
        consultation = _consultation(session)
        stored = service.store_suggestion(
            session,
            consultation=consultation,
            suggestion=suggestion(urgency="emergency", red_flag_reason="Chest pain"),
            analysed_text="x",
        )

        view = service.patient_view(stored)

        assert [i.display_name for i in view.items] == [
            "Pneumonia",
            "Common cold",
            "Bronchial asthma",
        ]
        assert [i.band_label for i in view.items] == ["Most likely", "Possible", "Less likely"]
        assert view.red_flag_reasons == ("Chest pain",)


class TestAbstainedSuggestion:
    def _store(self, session: Session, **changes: object) -> AISuggestion:
        import dataclasses

        return service.store_suggestion(
            session,
            consultation=_consultation(session),
            suggestion=dataclasses.replace(suggestion(), **changes),  # type: ignore[arg-type]
            analysed_text="x",
        )

    def test_reasons_and_ood_score_are_stored(self, session: Session) -> None:
        stored = self._store(
            session,
            abstained=True,
            abstain_reasons=("low_confidence", "out_of_distribution"),
            ood_score=-3.25,
        )
        session.expire(stored)

        assert stored.abstained
        assert stored.abstain_reasons == ["low_confidence", "out_of_distribution"]
        assert stored.ood_score == -3.25
        assert service.abstain_reason_labels(stored) == (
            service.ABSTAIN_REASON_LABELS["low_confidence"],
            service.ABSTAIN_REASON_LABELS["out_of_distribution"],
        )

    def test_the_patient_sees_no_diagnosis(self, session: Session) -> None:
        stored = self._store(session, abstained=True, abstain_reasons=("out_of_distribution",))

        view = service.patient_view(stored)

        assert view.abstained
        assert view.items == ()
        assert len(stored.ranked) == 4  # the doctor keeps the ranked list

    def test_an_answered_suggestion_has_no_reasons(self, session: Session) -> None:
        stored = self._store(session, ood_score=-9.0)

        assert stored.abstain_reasons == []
        assert service.abstain_reason_labels(stored) == ()
        assert len(service.patient_view(stored).items) == 3

    def test_older_abstained_rows_without_reasons_read_as_low_confidence(
        self, session: Session
    ) -> None:
        stored = self._store(session, abstained=True)

        assert service.abstain_reason_labels(stored) == (
            service.ABSTAIN_REASON_LABELS["low_confidence"],
        )
