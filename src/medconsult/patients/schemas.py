"""Patient profile schemas: bounded, validated input; explicit output fields."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medconsult.i18n import _
from medconsult.patients.models import Sex

PHONE_PATTERN = r"^[0-9+()\-. ]{0,40}$"


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(default="", max_length=200)
    date_of_birth: date | None = None
    sex: Sex = Sex.unknown
    phone: str = Field(default="", max_length=40, pattern=PHONE_PATTERN)
    allergies: str = Field(default="", max_length=2000)
    chronic_conditions: str = Field(default="", max_length=2000)
    current_medications: str = Field(default="", max_length=2000)

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth_date(cls, value: date | None) -> date | None:
        if value is not None and (value > date.today() or value.year < 1900):
            raise ValueError(_("Date of birth must be in the past and after 1900."))
        return value


class ProfileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    full_name: str
    date_of_birth: date | None
    sex: Sex
    phone: str
    allergies: str
    chronic_conditions: str
    current_medications: str
    updated_at: datetime
