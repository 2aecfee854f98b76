"""Admin services on PostgreSQL: accounts, audit viewer, registry, monitoring, feedback export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, UserSession
from medconsult.admin import feedback, monitoring
from medconsult.admin import service as admin_service
from medconsult.audit import service as audit_service
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.config import get_settings
from medconsult.consultations.models import ConsultationStatus
from medconsult.db import utcnow
from medconsult.diagnosis import registry
from medconsult.diagnosis.models import ModelVersion
from medconsult.errors import Conflict, NotFound, ValidationFailed
from medconsult.ml.data import load_dataset
from tests import factories


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


class TestCreateStaffAccount:
    def test_doctor_gets_a_working_one_time_link(self, session: Session) -> None:
        admin = factories.create_admin(session)

        user, token = admin_service.create_staff_account(
            session, actor=admin, email="new.doctor@example.org", role=Role.doctor
        )
        accounts_service.use_password_token(
            session, token=token, new_password="a long new password 42"
        )

        assert user.role is Role.doctor
        event = _events(session, "account.created")[-1]
        assert event.actor_id == admin.id
        assert event.record_id == str(user.id)

    def test_patient_accounts_are_not_created_by_admins(self, session: Session) -> None:
        admin = factories.create_admin(session)

        with pytest.raises(ValidationFailed):
            admin_service.create_staff_account(
                session, actor=admin, email="p@example.org", role=Role.patient
            )


class TestDeactivate:
    def test_ends_every_session_of_the_user(self, session: Session) -> None:
        admin = factories.create_admin(session)
        doctor = factories.create_doctor(session)
        token = accounts_service.start_session(session, user=doctor, settings=get_settings())

        admin_service.set_active(session, actor=admin, user_id=doctor.id, active=False)

        assert not doctor.is_active
        assert (
            accounts_service.resolve_session(session, token=token, settings=get_settings()) is None
        )
        assert (
            session.scalars(select(UserSession).where(UserSession.user_id == doctor.id)).all() == []
        )
        assert _events(session, "account.deactivated")[-1].actor_id == admin.id

    def test_last_active_admin_cannot_be_deactivated(self, session: Session) -> None:
        for other in session.scalars(
            select(factories.User).where(factories.User.role == Role.admin)
        ):
            other.is_active = False
        admin = factories.create_admin(session)

        with pytest.raises(Conflict):
            admin_service.set_active(session, actor=admin, user_id=admin.id, active=False)

    def test_last_active_admin_cannot_be_demoted(self, session: Session) -> None:
        for other in session.scalars(
            select(factories.User).where(factories.User.role == Role.admin)
        ):
            other.is_active = False
        admin = factories.create_admin(session)

        with pytest.raises(Conflict):
            admin_service.set_role(session, actor=admin, user_id=admin.id, role=Role.doctor)

    def test_an_admin_with_a_colleague_can_step_down(self, session: Session) -> None:
        admin = factories.create_admin(session)
        factories.create_admin(session)

        admin_service.set_role(session, actor=admin, user_id=admin.id, role=Role.doctor)

        assert admin.role is Role.doctor


class TestSessions:
    def test_end_one_session_keeps_the_other(self, session: Session) -> None:
        admin = factories.create_admin(session)
        doctor = factories.create_doctor(session)
        first = accounts_service.start_session(session, user=doctor, settings=get_settings())
        second = accounts_service.start_session(session, user=doctor, settings=get_settings())
        rows = admin_service.live_sessions(session, user_id=doctor.id)
        first_id = next(r.id for r in rows if r.token_hash == accounts_service.hash_token(first))

        admin_service.end_session(session, actor=admin, user_id=doctor.id, session_id=first_id)

        assert (
            accounts_service.resolve_session(session, token=first, settings=get_settings()) is None
        )
        assert accounts_service.resolve_session(session, token=second, settings=get_settings())

    def test_session_of_another_user_is_not_found(self, session: Session) -> None:
        admin = factories.create_admin(session)
        doctor = factories.create_doctor(session)
        accounts_service.start_session(session, user=admin, settings=get_settings())
        admin_session = admin_service.live_sessions(session, user_id=admin.id)[0]

        with pytest.raises(NotFound):
            admin_service.end_session(
                session, actor=admin, user_id=doctor.id, session_id=admin_session.id
            )


class TestAuditQuery:
    def test_actor_by_email_patient_by_id_and_inclusive_day(self, session: Session) -> None:
        admin = factories.create_admin(session)
        patient = factories.create_patient(session)
        today = utcnow().date().isoformat()

        flt = admin_service.parse_audit_query(
            session,
            admin_service.AuditQuery(
                actor=admin.email.upper(), patient=str(patient.id), since=today, until=today
            ),
        )

        assert flt.actor_id == admin.id
        assert flt.patient_id == patient.id
        assert flt.since is not None
        assert flt.until is not None
        assert flt.until - flt.since == timedelta(days=1)

    def test_bad_values_name_their_fields(self, session: Session) -> None:
        with pytest.raises(ValidationFailed) as caught:
            admin_service.parse_audit_query(
                session,
                admin_service.AuditQuery(
                    actor="nobody@example.org", outcome="maybe", since="yesterday"
                ),
            )

        assert set(caught.value.errors) == {"actor", "outcome", "since"}

    def test_page_filters_by_action_and_outcome(self, session: Session) -> None:
        admin = factories.create_admin(session)
        audit_service.record(session, actor=admin, action="zz.test.kept", outcome=Outcome.denied)
        audit_service.record(session, actor=admin, action="zz.test.kept")
        audit_service.record(session, actor=admin, action="zz.other", outcome=Outcome.denied)
        flt = admin_service.parse_audit_query(
            session, admin_service.AuditQuery(action="zz.test", outcome="denied")
        )

        page = admin_service.audit_page(session, flt=flt)

        assert page.total == 1
        assert page.events[0].action == "zz.test.kept"
        assert page.actor_emails[admin.id] == admin.email

    def test_csv_export_is_audited_and_streams_matching_events(
        self, session: Session, session_maker: sessionmaker[Session]
    ) -> None:
        admin = factories.create_admin(session)
        audit_service.record(session, actor=admin, action="zz.csv.one", details={"n": 1})
        audit_service.record(session, actor=admin, action="zz.csv.two")
        flt = audit_service.AuditFilter(action="zz.csv")

        body = "".join(
            admin_service.audit_csv_chunks(
                session, actor=admin, flt=flt, stream_session=session_maker
            )
        )

        rows = list(csv.DictReader(io.StringIO(body)))
        assert [r["action"] for r in rows] == ["zz.csv.one", "zz.csv.two"]
        assert rows[0]["details"] == '{"n": 1}'
        assert _events(session, "audit.exported")[-1].actor_id == admin.id


@pytest.fixture
def artifacts_root(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Start from an empty registry (rolled back with the test): browser tests commit versions.
    session.execute(delete(ModelVersion))
    root = tmp_path / "artifacts"
    root.mkdir()
    monkeypatch.setattr(get_settings(), "artifacts_dir", root)
    monkeypatch.setattr(get_settings(), "model_dir", None)
    return root


class TestRegistry:
    def test_lists_disk_artifacts_and_skips_incomplete_ones(
        self, session: Session, artifacts_root: Path
    ) -> None:
        factories.write_minimal_artifact(artifacts_root, "20260101T000000Z-a")
        (artifacts_root / "half-written").mkdir()

        entries = registry.list_models(session)

        assert [e.version for e in entries] == ["20260101T000000Z-a"]
        assert entries[0].info is not None
        assert entries[0].info.metrics["accuracy"] == pytest.approx(0.8)

    def test_activate_switches_the_served_directory_and_is_audited(
        self, session: Session, artifacts_root: Path
    ) -> None:
        admin = factories.create_admin(session)
        first = factories.write_minimal_artifact(artifacts_root, "v-first")
        second = factories.write_minimal_artifact(artifacts_root, "v-second")
        registry.activate_version(session, actor=admin, version="v-first")

        registry.activate_version(session, actor=admin, version="v-second")

        assert registry.active_model_dir(session) == Path(str(second)).resolve()
        active = session.scalars(select(ModelVersion).where(ModelVersion.is_active)).all()
        assert [row.version for row in active] == ["v-second"]
        event = _events(session, "model.activated")[-1]
        assert event.details == {"version": "v-second", "previous_version": "v-first"}
        assert Path(str(first)).exists()

    @pytest.mark.parametrize("version", ["../etc", "a/b", "", ".hidden"])
    def test_path_like_versions_are_refused(
        self, session: Session, artifacts_root: Path, version: str
    ) -> None:
        admin = factories.create_admin(session)

        with pytest.raises(ValidationFailed):
            registry.activate_version(session, actor=admin, version=version)

    def test_incomplete_artifact_cannot_be_activated(
        self, session: Session, artifacts_root: Path
    ) -> None:
        admin = factories.create_admin(session)
        broken = factories.write_minimal_artifact(artifacts_root, "v-broken")
        (Path(str(broken)) / "calibration.json").unlink()

        with pytest.raises(ValidationFailed):
            registry.activate_version(session, actor=admin, version="v-broken")

    def test_no_artifact_means_no_model_rather_than_an_error(
        self, session: Session, artifacts_root: Path
    ) -> None:
        assert registry.active_model_dir(session) is None

    def test_sync_registers_new_artifacts_once(
        self, session: Session, artifacts_root: Path
    ) -> None:
        factories.write_minimal_artifact(artifacts_root, "v-sync")

        added = registry.sync_from_disk(session)
        again = registry.sync_from_disk(session)

        assert [row.version for row in added] == ["v-sync"]
        assert again == []

    def test_card_is_read_as_text(self, session: Session, artifacts_root: Path) -> None:
        factories.write_minimal_artifact(artifacts_root, "v-card")

        card = registry.read_card(registry.get_entry(session, version="v-card"))

        assert "# Model card v-card" in card


def _reviewed_case(
    session: Session,
    *,
    ranked_labels: list[str],
    final_label: str | None,
    probability: float = 0.6,
    urgency: str = "routine",
    abstained: bool = False,
) -> None:
    patient = factories.create_patient(session)
    doctor = factories.create_doctor(session)
    consultation = factories.create_consultation(session, patient=patient)
    ranked: list[dict[str, object]] = [
        {"label": label, "display_name": label, "icd10": "", "probability": probability / (i + 1)}
        for i, label in enumerate(ranked_labels)
    ]
    suggestion = factories.create_suggestion(
        session, consultation=consultation, ranked=ranked, urgency=urgency, abstained=abstained
    )
    factories.create_signed_review(
        session,
        consultation=consultation,
        doctor=doctor,
        final_label=final_label,
        suggestion=suggestion,
    )


class TestMonitoring:
    def test_rates_histogram_and_agreement(self, session: Session) -> None:
        baseline = monitoring.compute(session, days=7)
        _reviewed_case(
            session,
            ranked_labels=["acne", "allergy", "arthritis"],
            final_label="acne",
            probability=0.95,
        )
        _reviewed_case(
            session,
            ranked_labels=["allergy", "acne", "arthritis"],
            final_label="acne",
            probability=0.55,
            urgency="emergency",
        )
        _reviewed_case(
            session,
            ranked_labels=["allergy", "arthritis", "jaundice"],
            final_label="acne",
            probability=0.15,
            abstained=True,
        )
        _reviewed_case(
            session,
            ranked_labels=["allergy", "arthritis", "jaundice"],
            final_label=None,
            probability=0.35,
        )

        m = monitoring.compute(session, days=7)

        assert m.suggestions - baseline.suggestions == 4
        assert m.abstained - baseline.abstained == 1
        assert m.emergencies - baseline.emergencies == 1
        added = [a - b for a, b in zip(m.histogram, baseline.histogram, strict=True)]
        assert added == [0, 1, 0, 1, 0, 1, 0, 0, 0, 1]
        assert m.overall.reviewed - baseline.overall.reviewed == 4
        assert m.overall.top1 - baseline.overall.top1 == 1
        assert m.overall.top3 - baseline.overall.top3 == 2
        acne = next(a for a in m.by_label if a.key == "acne")
        assert (acne.reviewed, acne.top1, acne.top3) >= (3, 1, 2)
        assert any(a.key is None for a in m.by_label)
        assert any(a.key == "test-model-2026-01-01" for a in m.by_version)

    def test_an_amended_review_counts_once_with_the_amendment(self, session: Session) -> None:
        baseline = monitoring.compute(session, days=7)
        patient = factories.create_patient(session)
        doctor = factories.create_doctor(session)
        consultation = factories.create_consultation(session, patient=patient)
        suggestion = factories.create_suggestion(session, consultation=consultation)
        first = factories.create_signed_review(
            session,
            consultation=consultation,
            doctor=doctor,
            final_label="acne",
            suggestion=suggestion,
        )
        factories.create_signed_review(
            session,
            consultation=consultation,
            doctor=doctor,
            final_label="pneumonia",
            suggestion=suggestion,
            amends=first,
            signed_at=utcnow() + timedelta(seconds=1),
        )

        m = monitoring.compute(session, days=7)

        assert m.overall.reviewed - baseline.overall.reviewed == 1
        assert m.overall.top1 - baseline.overall.top1 == 1

    def test_charts_scale_to_the_largest_value(self) -> None:
        chart = monitoring.bar_chart([("a", 1.0), ("b", 4.0)])

        assert chart.bars[1].height == pytest.approx(chart.baseline - 10.0)
        assert chart.bars[0].height == pytest.approx(chart.bars[1].height / 4)


class TestFeedbackExport:
    def test_export_is_deidentified_labelled_and_loads_for_training(
        self, session: Session, session_maker: sessionmaker[Session], tmp_path: Path
    ) -> None:
        admin = factories.create_admin(session)
        patient = factories.create_patient(session, full_name="Grace Hopper")
        doctor = factories.create_doctor(session)
        known = factories.create_consultation(
            session,
            patient=patient,
            chief_complaint="Itchy rash",
            history=f"My name is Grace Hopper, mail {patient.email}, call 07700 900123. "
            "Spots on my face since 12/03/2024.",
        )
        factories.create_signed_review(
            session, consultation=known, doctor=doctor, final_label=None, final_diagnosis="Acne"
        )
        unknown = factories.create_consultation(session, patient=patient, chief_complaint="Odd")
        factories.create_signed_review(
            session,
            consultation=unknown,
            doctor=doctor,
            final_label=None,
            final_diagnosis="Something rare",
        )
        pending = factories.create_consultation(
            session, patient=patient, status=ConsultationStatus.awaiting_review
        )
        assert pending is not None

        body = "".join(feedback.csv_chunks(session, actor=admin, stream_session=session_maker))
        path = tmp_path / "export.csv"
        path.write_text(body, encoding="utf-8")
        dataset = load_dataset(path)

        mine = [
            (label, text)
            for label, text in zip(dataset.labels, dataset.texts, strict=True)
            if text.startswith("Itchy rash.")
        ]
        assert mine == [
            (
                "acne",
                "Itchy rash. My name is [NAME], mail [EMAIL], call [PHONE]. "
                "Spots on my face since [DATE].",
            )
        ]
        assert "Odd" not in body
        assert body.splitlines()[0] == "label,text"
        assert _events(session, "feedback.exported")[-1].actor_id == admin.id

    def test_consultations_without_ai_consent_are_left_out(self, session: Session) -> None:
        patient = factories.create_patient(session)
        doctor = factories.create_doctor(session)
        consultation = factories.create_consultation(
            session, patient=patient, chief_complaint="No consent here"
        )
        consultation.ai_consent = False
        factories.create_signed_review(
            session, consultation=consultation, doctor=doctor, final_label="acne"
        )

        rows = list(feedback.iter_rows(session))

        assert all("No consent here" not in text for _, text in rows)
