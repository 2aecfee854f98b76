"""Patient profile pages."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from medconsult.auth import CurrentUser, PatientUser
from medconsult.db import SessionDep
from medconsult.patients import service as patients_service
from medconsult.patients.models import Sex
from medconsult.patients.schemas import ProfileUpdate
from medconsult.web.forms import field_messages
from medconsult.web.templating import redirect_to, render

router = APIRouter(include_in_schema=False)


class ProfileForm(BaseModel):
    """The profile form as posted: text, checked against ProfileUpdate by the route."""

    full_name: str = Field("", max_length=4000)
    date_of_birth: str = Field("", max_length=4000)
    sex: str = Field("unknown", max_length=4000)
    phone: str = Field("", max_length=4000)
    allergies: str = Field("", max_length=4000)
    chronic_conditions: str = Field("", max_length=4000)
    current_medications: str = Field("", max_length=4000)


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
    form: Annotated[ProfileForm, Form()],
) -> Response:
    raw: dict[str, str | None] = {**form.model_dump(), "date_of_birth": form.date_of_birth or None}
    try:
        data = ProfileUpdate.model_validate(raw)
    except ValidationError as exc:
        errors = field_messages(exc.errors())
        return render(
            request,
            "patients/profile.html",
            {"profile": raw, "errors": errors, "sexes": list(Sex), "saved": False},
            status_code=422,
        )
    patients_service.update_own_profile(session, actor=user, data=data)
    return redirect_to(request, "patients:profile", query={"saved": "1"})


@router.get("/patients/{patient_id}", name="patients:detail")
def patient_page(
    request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID
) -> Response:
    profile = patients_service.get_profile(session, actor=user, patient_id=patient_id)
    return render(request, "patients/detail.html", {"profile": profile})
