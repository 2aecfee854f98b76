"""Patient profile pages."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from medconsult import i18n
from medconsult.auth import CurrentUser, PatientUser
from medconsult.db import SessionDep
from medconsult.patients import service as patients_service
from medconsult.patients.models import Sex
from medconsult.patients.schemas import ProfileUpdate
from medconsult.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=4000)]


@router.get("/profile", name="patients:profile")
def profile_page(request: Request, session: SessionDep, user: PatientUser) -> Response:
    profile = patients_service.get_profile(session, actor=user, patient_id=user.id)
    return render(
        request,
        "patients/profile.html",
        {
            "profile": profile,
            "errors": {},
            "sexes": list(Sex),
            "saved": "saved" in request.query_params,
        },
    )


@router.post("/profile")
def update_profile(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    full_name: Text = "",
    date_of_birth: Text = "",
    sex: Text = "unknown",
    phone: Text = "",
    allergies: Text = "",
    chronic_conditions: Text = "",
    current_medications: Text = "",
) -> Response:
    raw = {
        "full_name": full_name,
        "date_of_birth": date_of_birth or None,
        "sex": sex,
        "phone": phone,
        "allergies": allergies,
        "chronic_conditions": chronic_conditions,
        "current_medications": current_medications,
    }
    try:
        data = ProfileUpdate.model_validate(raw)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): i18n.validation_message(e) for e in exc.errors()}
        return render(
            request,
            "patients/profile.html",
            {"profile": raw, "errors": errors, "sexes": list(Sex), "saved": False},
            status_code=422,
        )
    patients_service.update_own_profile(session, actor=user, data=data)
    return redirect(request, "/profile?saved=1")


@router.get("/patients/{patient_id}", name="patients:detail")
def patient_page(
    request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID
) -> Response:
    profile = patients_service.get_profile(session, actor=user, patient_id=patient_id)
    return render(request, "patients/detail.html", {"profile": profile})
