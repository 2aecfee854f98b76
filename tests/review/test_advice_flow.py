"""Advice drafts on the review form, in the signed record, on the patient's page and in the API."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.consultations.models import Consultation
from medconsult.errors import ValidationFailed
from medconsult.review import advice as advice_library
from medconsult.review import queries as review_queries
from medconsult.review import service as review_service
from medconsult.review.models import AdviceTemplateOutcome, Decision
from medconsult.review.schemas import ReviewCreate
from tests.factories import (
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
    login,
)


def _entry(label: str) -> advice_library.AdviceEntry:
    entry = advice_library.entry_for(label)
    assert entry is not None
    return entry


def _draft(label: str) -> str:
    return advice_library.compose_draft(_entry(label))


def _claimed_case(session: Session, doctor: User, patient: User | None = None) -> Consultation:
    consultation = create_consultation(session, patient=patient or create_patient(session))
    create_suggestion(session, consultation=consultation)
    review_service.claim(session, actor=doctor, consultation_id=consultation.id)
    return consultation


def _audit(session: Session, action: str, actor: User) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.actor_id == actor.id)
        )
    )


class TestTemplateOutcome:
    def test_unchanged_draft_is_used(self) -> None:
        entry = _entry("pneumonia")
        text = _draft("pneumonia").replace("\n", "\r\n") + "\r\n"

        outcome = review_service.template_outcome(entry, advice=text, discarded=False)

        assert outcome is AdviceTemplateOutcome.used

    def test_changed_draft_is_edited(self) -> None:
        entry = _entry("pneumonia")

        outcome = review_service.template_outcome(
            entry, advice=_draft("pneumonia") + "\nCome back on Friday.", discarded=False
        )

        assert outcome is AdviceTemplateOutcome.edited

    @pytest.mark.parametrize(("advice", "discarded"), [("", False), ("My own words", True)])
    def test_empty_or_thrown_away_is_discarded(self, advice: str, discarded: bool) -> None:
        outcome = review_service.template_outcome(
            _entry("pneumonia"), advice=advice, discarded=discarded
        )

        assert outcome is AdviceTemplateOutcome.discarded


class TestSignedReviewRecordsTemplate:
    def test_edited_draft_is_recorded_with_version(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)
        entry = _entry("pneumonia")

        review = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.accept,
                accepted_label="pneumonia",
                advice=_draft("pneumonia") + "\nSee you in two days.",
                advice_template_label="pneumonia",
                advice_template_version=entry.version,
            ),
        )

        assert review.advice_template_label == "pneumonia"
        assert review.advice_template_version == entry.version
        assert review.advice_template_outcome is AdviceTemplateOutcome.edited
        signed = _audit(session, "review.signed", doctor)[-1]
        assert signed.details["advice_template"] == {
            "label": "pneumonia",
            "version": entry.version,
            "outcome": "edited",
        }

    def test_no_template_leaves_the_columns_empty(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        review = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(decision=Decision.accept, accepted_label="pneumonia", advice="Rest"),
        )

        assert review.advice_template_label is None
        assert review.advice_template_version is None
        assert review.advice_template_outcome is None

    def test_draft_for_another_diagnosis_is_refused(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(ValidationFailed) as caught:
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(
                    decision=Decision.modify,
                    label_key="malaria",
                    advice=_draft("pneumonia"),
                    advice_template_label="pneumonia",
                    advice_template_version=_entry("pneumonia").version,
                ),
            )

        assert "another diagnosis" in caught.value.errors["advice"]
        assert review_queries.latest_review(session, consultation_id=consultation.id) is None

    def test_outdated_version_is_refused(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(ValidationFailed) as caught:
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(
                    decision=Decision.accept,
                    accepted_label="pneumonia",
                    advice=_draft("pneumonia"),
                    advice_template_label="pneumonia",
                    advice_template_version=_entry("pneumonia").version + 1,
                ),
            )

        assert "changed" in caught.value.errors["advice"]


class TestReviewFormOffersDraft:
    def test_case_page_offers_no_draft_before_a_decision(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        page = client.get(f"/doctor/consultations/{consultation.id}")

        assert page.status_code == 200
        assert "Choose a diagnosis above to be offered reviewed advice" in page.text
        for label in ("pneumonia", "common_cold", "bronchial_asthma"):
            assert _entry(label).self_care[0] not in page.text
        assert 'name="advice_template_label"' not in page.text
        assert f'hx-post="/doctor/consultations/{consultation.id}/advice-draft"' in page.text

    @pytest.mark.parametrize(
        ("form", "label"),
        [
            ({"decision": "accept", "accepted_label": "pneumonia"}, "pneumonia"),
            ({"decision": "accept", "accepted_label": "common_cold"}, "common_cold"),
            ({"decision": "modify", "label_key": "malaria"}, "malaria"),
            ({"decision": "reject", "label_key": "dengue"}, "dengue"),
        ],
    )
    def test_decision_offers_that_diagnosis_draft(
        self, client: TestClient, session: Session, form: dict[str, str], label: str
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)
        entry = _entry(label)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/advice-draft",
            data=form,
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )

        assert response.status_code == 200
        assert "<html" not in response.text
        assert 'name="advice_template_label" value="' + label + '"' in response.text
        assert f'name="advice_template_version" value="{entry.version}"' in response.text
        assert entry.source_url in response.text
        assert entry.source_name in response.text
        textarea = response.text.split('name="advice"', 1)[1]
        assert entry.self_care[0] in textarea
        assert entry.seek_help_now[0] in textarea
        events = _audit(session, "advice.draft.read", doctor)
        assert [e.details for e in events] == [{"label": label, "version": entry.version}]
        assert events[0].patient_id == consultation.patient_id

    @pytest.mark.parametrize(
        "form",
        [
            {},
            {"decision": "accept"},
            {"decision": "modify"},
            {"decision": "accept", "accepted_label": "malaria"},  # not among the suggestions
            {"decision": "modify", "label_key": "no_such_label"},
        ],
    )
    def test_no_draft_without_a_decided_label(
        self, client: TestClient, session: Session, form: dict[str, str]
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/advice-draft",
            data=form,
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 200
        assert 'name="advice_template_label"' not in response.text
        assert "Source:" not in response.text
        assert _audit(session, "advice.draft.read", doctor) == []

    def test_own_advice_is_kept_and_the_draft_shown_beside_it(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/advice-draft",
            data={"decision": "accept", "accepted_label": "pneumonia", "advice": "My own <b>"},
            headers={"X-CSRF-Token": token},
        )

        textarea = response.text.split('name="advice"', 1)[1]
        assert "My own &lt;b&gt;</textarea>" in textarea
        assert "Replace my advice with the draft" in response.text
        assert 'name="advice_template_label"' not in response.text

    def test_changing_the_diagnosis_replaces_an_unchanged_draft(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/advice-draft",
            data={
                "decision": "modify",
                "label_key": "malaria",
                "advice": _draft("pneumonia").replace("\n", "\r\n"),
                "advice_template_label": "pneumonia",
            },
            headers={"X-CSRF-Token": token},
        )

        textarea = response.text.split('name="advice"', 1)[1]
        assert _entry("malaria").next_steps[0] in textarea
        assert _entry("pneumonia").next_steps[0] not in textarea

    def test_discard_empties_the_field_and_marks_it(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/advice-draft",
            data={
                "decision": "accept",
                "accepted_label": "pneumonia",
                "advice": _draft("pneumonia"),
                "advice_template_label": "pneumonia",
                "advice_action": "discard",
            },
            headers={"X-CSRF-Token": token},
        )

        assert "Draft discarded" in response.text
        assert 'name="advice_template_discarded" value="1"' in response.text
        assert '<textarea id="advice" name="advice" rows="4" ></textarea>' in response.text

    def test_doctor_who_did_not_claim_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        claimer = create_doctor(session, email=f"claimer-{uuid.uuid4().hex[:6]}@example.org")
        other = create_doctor(session, email=f"other-{uuid.uuid4().hex[:6]}@example.org")
        token = login(client, session, other)
        consultation = _claimed_case(session, claimer)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/advice-draft",
            data={"decision": "accept", "accepted_label": "pneumonia"},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 403
        assert _entry("pneumonia").next_steps[0] not in response.text

    def test_patient_is_refused(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        consultation = _claimed_case(session, doctor, patient)
        token = login(client, session, patient)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/advice-draft",
            data={"decision": "accept", "accepted_label": "pneumonia"},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 403
        assert _entry("pneumonia").next_steps[0] not in response.text
        assert [e.outcome for e in _audit(session, "advice.draft.read", patient)] == [
            Outcome.denied
        ]

    def test_label_search_results_ask_for_the_draft(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        response = client.get(f"/doctor/labels?q=malaria&consultation={consultation.id}")

        assert f'hx-post="/doctor/consultations/{consultation.id}/advice-draft"' in response.text

    def test_signing_through_the_form_records_the_unchanged_draft(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)
        entry = _entry("pneumonia")

        signed = client.post(
            f"/doctor/consultations/{consultation.id}/review",
            data={
                "csrf_token": token,
                "decision": "accept",
                "accepted_label": "pneumonia",
                "advice": _draft("pneumonia").replace("\n", "\r\n"),
                "advice_template_label": "pneumonia",
                "advice_template_version": str(entry.version),
                "advice_template_discarded": "",
            },
            follow_redirects=False,
        )
        page = client.get(signed.headers["location"])

        assert signed.status_code == 303
        review = review_queries.latest_review(session, consultation_id=consultation.id)
        assert review is not None
        assert review.advice_template_outcome is AdviceTemplateOutcome.used
        assert "signed unchanged" in page.text

    def test_mismatched_draft_rerenders_the_form_with_the_text_kept(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/review",
            data={
                "csrf_token": token,
                "decision": "modify",
                "label_key": "malaria",
                "advice": "Edited pneumonia advice",
                "advice_template_label": "pneumonia",
                "advice_template_version": str(_entry("pneumonia").version),
            },
        )

        assert response.status_code == 422
        assert "The advice draft is for another diagnosis" in response.text
        assert "Edited pneumonia advice</textarea>" in response.text
        assert review_queries.latest_review(session, consultation_id=consultation.id) is None


class TestPatientSeesOnlySignedAdvice:
    def test_offered_draft_is_not_shown_before_signing(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        consultation = _claimed_case(session, doctor, patient)
        review_service.advice_draft_for_case(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            decision="accept",
            accepted_label="pneumonia",
            label_key="",
        )
        login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}")
        api = client.get(f"/api/v1/consultations/{consultation.id}").json()

        entry = _entry("pneumonia")
        for text in entry.texts():
            assert text not in page.text
            assert text not in str(api)
        assert "Seek help now if" not in page.text
        assert api["conclusion"] is None

    def test_signed_advice_ends_with_safety_netting(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        consultation = _claimed_case(session, doctor, patient)
        entry = _entry("pneumonia")
        review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.accept,
                accepted_label="pneumonia",
                advice="Rest at home <script>x</script> and drink fluids.",
                advice_template_label="pneumonia",
                advice_template_version=entry.version,
            ),
        )
        login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}").text
        api = client.get(f"/api/v1/consultations/{consultation.id}").json()

        assert "Rest at home &lt;script&gt;x&lt;/script&gt; and drink fluids." in page
        # The draft's own texts are not what the patient got: only the signed advice is shown...
        assert entry.self_care[0] not in page
        # ...but the condition's safety-netting and the emergency wording always end it.
        conclusion = page[page.index('id="conclusion-heading"') :]
        safety = conclusion[conclusion.index("Seek help now if") :]
        for line in entry.seek_help_now:
            assert line in safety
        assert advice_library.EMERGENCY_WORDING in safety
        assert api["conclusion"]["seek_help_now"] == list(
            advice_library.safety_netting("pneumonia")
        )
        assert api["conclusion"]["emergency"] == advice_library.EMERGENCY_WORDING

    def test_free_text_diagnosis_gets_the_generic_safety_netting(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        consultation = _claimed_case(session, doctor, patient)
        review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.modify, diagnosis="Acute bronchitis", icd10_code="J20.9"
            ),
        )
        login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}").text

        for line in advice_library.GENERIC_SEEK_HELP_NOW:
            assert line in page
        assert advice_library.EMERGENCY_WORDING in page


class TestAdviceApi:
    def test_doctor_gets_the_draft_and_it_is_audited(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        entry = _entry("migraine")

        response = client.get("/api/v1/doctor/advice/migraine")

        assert response.status_code == 200
        body = response.json()
        assert body["label"] == "migraine"
        assert body["display_name"] == "Migraine"
        assert body["version"] == entry.version
        assert body["source"] == {"name": entry.source_name, "url": entry.source_url}
        assert body["seek_help_now"] == list(entry.seek_help_now)
        assert body["draft"] == _draft("migraine")
        events = _audit(session, "advice.draft.read", doctor)
        assert [(e.record_type, e.record_id, e.outcome) for e in events] == [
            ("advice_template", "migraine", Outcome.success)
        ]

    def test_unknown_label_is_404(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))

        response = client.get("/api/v1/doctor/advice/no_such_label")

        assert response.status_code == 404

    def test_patient_is_refused_and_audited(self, client: TestClient, session: Session) -> None:
        patient = create_patient(session)
        login(client, session, patient)

        response = client.get("/api/v1/doctor/advice/migraine")

        assert response.status_code == 403
        assert "self_care" not in response.text
        events = _audit(session, "advice.draft.read", patient)
        assert [e.outcome for e in events] == [Outcome.denied]

    def test_anonymous_is_refused(self, client: TestClient) -> None:
        response = client.get("/api/v1/doctor/advice/migraine")

        assert response.status_code == 401

    def test_review_submission_records_the_template(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)
        draft = client.get("/api/v1/doctor/advice/pneumonia").json()

        signed = client.post(
            f"/api/v1/consultations/{consultation.id}/reviews",
            headers={"X-CSRF-Token": token},
            json={
                "decision": "accept",
                "accepted_label": "pneumonia",
                "advice": draft["draft"],
                "advice_template_label": draft["label"],
                "advice_template_version": draft["version"],
            },
        )

        assert signed.status_code == 201
        assert signed.json()["advice_template_label"] == "pneumonia"
        assert signed.json()["advice_template_version"] == draft["version"]
        assert signed.json()["advice_template_outcome"] == "used"

    @pytest.mark.parametrize(
        "extra",
        [{"advice_template_version": "1"}, {"advice_template_discarded": "yes"}],
    )
    def test_template_fields_are_strictly_typed(
        self, client: TestClient, session: Session, extra: dict[str, str]
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = _claimed_case(session, doctor)

        response = client.post(
            f"/api/v1/consultations/{consultation.id}/reviews",
            headers={"X-CSRF-Token": token},
            json={
                "decision": "accept",
                "accepted_label": "pneumonia",
                "advice_template_label": "pneumonia",
                **extra,
            },
        )

        assert response.status_code == 422
