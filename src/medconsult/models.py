"""Import every domain's models so Alembic and tools see the whole schema."""

from medconsult.accounts.models import (
    LoginFailure,
    MfaChallenge,
    MfaCredential,
    MfaRecoveryCode,
    PasswordToken,
    Role,
    User,
    UserSession,
)
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.consultations.models import (
    Consultation,
    ConsultationStatus,
    Message,
    ReportFile,
    Urgency,
)
from medconsult.db import Base
from medconsult.diagnosis.models import AISuggestion, ModelVersion
from medconsult.interview.models import Interview, InterviewStatus
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.monitoring.models import (
    MonitoringDaily,
    MonitoringDailyAdvice,
    MonitoringDailyAgreement,
    MonitoringDailyHistogram,
    MonitoringDirtyDay,
)
from medconsult.notifications.models import EmailStatus, Notification, NotificationKind
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
    "EmailStatus",
    "Interview",
    "InterviewStatus",
    "JobStatus",
    "LoginFailure",
    "Message",
    "MfaChallenge",
    "MfaCredential",
    "MfaRecoveryCode",
    "ModelVersion",
    "MonitoringDaily",
    "MonitoringDailyAdvice",
    "MonitoringDailyAgreement",
    "MonitoringDailyHistogram",
    "MonitoringDirtyDay",
    "Notification",
    "NotificationKind",
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
