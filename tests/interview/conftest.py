"""Interview fixtures: a patient's chest-pain consultation, the other callers, answer helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations.models import Consultation
from tests import factories


@dataclass
class Cast:
    patient: User
    other_patient: User
    doctor: User
    admin: User
    consultation: Consultation


@pytest.fixture
def cast(session: Session) -> Cast:
    patient = factories.create_patient(session, full_name="Petra Pain")
    consultation = factories.create_consultation(
        session,
        patient=patient,
        chief_complaint="Chest pain",
        history="A tight pain in my chest since this morning, worse when I breathe in.",
    )
    return Cast(
        patient=patient,
        other_patient=factories.create_patient(session, full_name="Otto Other"),
        doctor=factories.create_doctor(session),
        admin=factories.create_admin(session),
        consultation=consultation,
    )


def an_answer(question: dict[str, Any], *, prefer_yes: bool = True) -> dict[str, Any]:
    """A valid answer to an API ``next_question``: yes (or no), else its first option."""
    options = [option["value"] for option in question["options"]]
    if question["kind"] == "binary":
        return {"question": question["code"], "values": ["yes" if prefer_yes else "no"]}
    return {"question": question["code"], "values": options[:1]}
