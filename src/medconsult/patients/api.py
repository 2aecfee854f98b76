"""Patient profile JSON API."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from medconsult.auth import CurrentUser, PatientUser
from medconsult.db import SessionDep
from medconsult.patients import service as patients_service
from medconsult.patients.models import PatientProfile
from medconsult.patients.schemas import ProfileRead, ProfileUpdate

router = APIRouter(prefix="/patients", tags=["patients"])


@router.get("/me/profile", response_model=ProfileRead)
def my_profile(session: SessionDep, user: PatientUser) -> PatientProfile:
    return patients_service.get_profile(session, actor=user, patient_id=user.id)


@router.put("/me/profile", response_model=ProfileRead)
def update_my_profile(
    body: ProfileUpdate, session: SessionDep, user: PatientUser
) -> PatientProfile:
    return patients_service.update_own_profile(session, actor=user, data=body)


@router.get("/{patient_id}/profile", response_model=ProfileRead)
def patient_profile(
    patient_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> PatientProfile:
    return patients_service.get_profile(session, actor=user, patient_id=patient_id)
