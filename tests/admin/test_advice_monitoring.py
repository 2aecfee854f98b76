"""Monitoring of advice drafts: how often each condition's draft is used, edited or discarded."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.admin import monitoring
from medconsult.review import advice as advice_library
from medconsult.review import service as review_service
from medconsult.review.models import Decision
from medconsult.review.schemas import ReviewCreate
from tests.factories import (
    create_admin,
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
    login,
)


def _sign(session: Session, doctor: User, *, advice: str, template: bool, discarded: bool) -> None:
    consultation = create_consultation(session, patient=create_patient(session))
    create_suggestion(session, consultation=consultation)
    review_service.claim(session, actor=doctor, consultation_id=consultation.id)
    entry = advice_library.entry_for("pneumonia")
    assert entry is not None
    review_service.submit_review(
        session,
        actor=doctor,
        consultation_id=consultation.id,
        data=ReviewCreate(
            decision=Decision.accept,
            accepted_label="pneumonia",
            advice=advice,
            advice_template_label="pneumonia" if template else "",
            advice_template_version=entry.version if template else None,
            advice_template_discarded=discarded,
        ),
    )


def _pneumonia(m: monitoring.Monitoring) -> tuple[int, int, int, int, int]:
    for a in m.advice:
        if a.label == "pneumonia":
            return (a.reviews, a.used, a.edited, a.discarded, a.without_draft)
    return (0, 0, 0, 0, 0)


def _sign_one_of_each(session: Session) -> None:
    doctor = create_doctor(session)
    entry = advice_library.entry_for("pneumonia")
    assert entry is not None
    draft = advice_library.compose_draft(entry)
    _sign(session, doctor, advice=draft, template=True, discarded=False)
    _sign(session, doctor, advice=draft, template=True, discarded=False)
    _sign(session, doctor, advice=draft + "\nCall us on Monday.", template=True, discarded=False)
    _sign(session, doctor, advice="My own advice", template=True, discarded=True)
    _sign(session, doctor, advice="Typed from scratch", template=False, discarded=False)


class TestAdviceMonitoring:
    def test_counts_per_condition(self, session: Session) -> None:
        before = _pneumonia(monitoring.compute(session, days=7))

        _sign_one_of_each(session)

        after = _pneumonia(monitoring.compute(session, days=7))
        added = tuple(a - b for a, b in zip(after, before, strict=True))
        assert added == (5, 2, 1, 1, 1)

    def test_page_and_api_show_the_counts(self, client: TestClient, session: Session) -> None:
        _sign_one_of_each(session)
        expected = _pneumonia(monitoring.compute(session, days=7))
        login(client, session, create_admin(session))

        page = client.get("/admin/monitoring", params={"days": 7})
        api = client.get("/api/v1/admin/monitoring", params={"days": 7})

        assert page.status_code == 200
        row = page.text[page.text.index('<tr data-label="pneumonia">') :]
        row = row[: row.index("</tr>")]
        cells = "".join(f"<td>{n}</td>" for n in expected)
        assert row == f'<tr data-label="pneumonia"><td>Pneumonia</td>{cells}'
        pneumonia = next(a for a in api.json()["advice_drafts"] if a["label"] == "pneumonia")
        assert (
            pneumonia["reviews"],
            pneumonia["used"],
            pneumonia["edited"],
            pneumonia["discarded"],
            pneumonia["without_draft"],
        ) == expected
