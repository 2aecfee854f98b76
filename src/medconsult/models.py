"""Import every domain's models so Alembic and tools see the whole schema."""

from medconsult.accounts.models import LoginFailure, PasswordToken, Role, User, UserSession
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.consultations.models import (
    AnalysisJob,
    Consultation,
    ConsultationStatus,
    JobStatus,
    Message,
    ReportFile,
    Urgency,
)
from medconsult.db import Base
from medconsult.diagnosis.models import AISuggestion, ModelVersion
from medconsult.patients.models import PatientProfile, Sex
from medconsult.review.models import Decision, DoctorReview

__all__ = [
    "AISuggestion",
    "AnalysisJob",
    "AuditEvent",
    "Base",
    "Consultation",
    "ConsultationStatus",
    "Decision",
    "DoctorReview",
    "JobStatus",
    "LoginFailure",
    "Message",
    "ModelVersion",
    "Outcome",
    "PasswordToken",
    "PatientProfile",
    "ReportFile",
    "Role",
    "Sex",
    "Urgency",
    "User",
    "UserSession",
]
