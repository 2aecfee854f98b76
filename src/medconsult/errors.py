"""One error hierarchy: services raise these; the app turns them into JSON or an error page."""

from __future__ import annotations


class MedconsultError(Exception):
    """Base of every error a service may raise; carries the HTTP status it maps to."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAuthenticated(MedconsultError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(MedconsultError):
    status_code = 403
    code = "forbidden"


class CSRFError(Forbidden):
    code = "csrf_failed"


class MfaEnrolmentRequired(Forbidden):
    """A staff account without a second factor where one is required: pages send it to set-up."""

    code = "mfa_enrolment_required"


class NotFound(MedconsultError):
    status_code = 404
    code = "not_found"


class Conflict(MedconsultError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(MedconsultError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(MedconsultError):
    """Invalid input; ``errors`` maps each field to a human-readable message."""

    status_code = 422
    code = "validation_failed"

    def __init__(self, errors: dict[str, str]) -> None:
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)
        self.errors = errors


class TooManyRequests(MedconsultError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(MedconsultError):
    status_code = 503
    code = "unavailable"


class Gone(MedconsultError):
    """A link that was valid once and has expired."""

    status_code = 410
    code = "gone"
