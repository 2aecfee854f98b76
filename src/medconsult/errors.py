"""One error hierarchy: services raise these; the app turns them into JSON or an error page.

Each class names its HTTP status and machine-readable code in its header, e.g.
``class NotFound(MedconsultError, status_code=404, code="not_found")``; a subclass that names
neither keeps its parent's.
"""

from __future__ import annotations


class MedconsultError(Exception):
    """Base of every error a service may raise; carries the HTTP status it maps to."""

    status_code = 400
    code = "bad_request"

    def __init_subclass__(cls, *, status_code: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAuthenticated(MedconsultError, status_code=401, code="not_authenticated"): ...


class Forbidden(MedconsultError, status_code=403, code="forbidden"): ...


class CSRFError(Forbidden, code="csrf_failed"): ...


class MfaEnrolmentRequired(Forbidden, code="mfa_enrolment_required"):
    """A staff account without a second factor where one is required: pages send it to set-up."""


class NotFound(MedconsultError, status_code=404, code="not_found"): ...


class Conflict(MedconsultError, status_code=409, code="conflict"): ...


class Gone(MedconsultError, status_code=410, code="gone"):
    """A link that was valid once and has expired."""


class PayloadTooLarge(MedconsultError, status_code=413, code="payload_too_large"): ...


class ValidationFailed(MedconsultError, status_code=422, code="validation_failed"):
    """Invalid input; ``errors`` maps each field to a human-readable message."""

    def __init__(self, errors: dict[str, str]) -> None:
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)
        self.errors = errors


class TooManyRequests(MedconsultError, status_code=429, code="too_many_requests"):
    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(MedconsultError, status_code=503, code="unavailable"): ...
