"""Doctor pages: the review queue, the case page, claiming and signing off."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from medconsult.auth import CurrentUser, DoctorUser
from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import ConsultationStatus, Urgency
from medconsult.db import SessionDep
from medconsult.errors import ValidationFailed
from medconsult.i18n import N_, _, ngettext
from medconsult.interview import service as interview_service
from medconsult.review import advice as advice_library
from medconsult.review import cases as review_cases
from medconsult.review import service as review_service
from medconsult.review.schemas import QueueStatusFilter, ReviewCreate
from medconsult.web.forms import field_messages
from medconsult.web.templating import is_htmx, redirect_to, render, url_path

router = APIRouter(prefix="/doctor", include_in_schema=False)

# Form fields are bounded here as well as by the request size limit; the service gives the
# clear per-field message for anything over the configured text limit.
FormText = Annotated[str, Field(max_length=100_000)]
FormShort = Annotated[str, Field(max_length=1000)]


class AdviceDraftForm(BaseModel):
    """What the review form posts when the doctor's decision changes."""

    decision: FormShort = ""
    accepted_label: FormShort = ""
    label_key: FormShort = ""
    advice: FormText = ""
    advice_template_label: FormShort = ""
    advice_action: FormShort = ""


class ReviewForm(AdviceDraftForm):
    """The review form as posted: text, checked against ReviewCreate by the route."""

    q: FormShort = ""
    diagnosis: FormText = ""
    icd10_code: FormShort = ""
    reject_reason: FormText = ""
    private_note: FormText = ""
    amends_id: FormShort = ""
    advice_template_version: FormShort = ""
    advice_template_discarded: FormShort = ""


STATUS_FILTERS: list[tuple[str, str]] = [
    ("open", N_("Waiting or in review")),
    ("submitted", N_("Submitted")),
    ("analysing", N_("Analysing")),
    ("awaiting_review", N_("Awaiting review")),
    ("in_review", N_("In review")),
    ("concluded", N_("Concluded")),
    ("closed", N_("Closed")),
    ("all", N_("All")),
]
STATUS_NAMES = {
    ConsultationStatus.submitted: N_("Submitted"),
    ConsultationStatus.analysing: N_("Analysing"),
    ConsultationStatus.awaiting_review: N_("Awaiting review"),
    ConsultationStatus.in_review: N_("In review"),
    ConsultationStatus.concluded: N_("Concluded"),
    ConsultationStatus.closed: N_("Closed"),
}
URGENCY_NAMES = {
    Urgency.emergency: N_("Emergency"),
    Urgency.urgent: N_("Urgent"),
    Urgency.routine: N_("Routine"),
    Urgency.self_care: N_("Self-care"),
}
COMPLAINT_PREVIEW_CHARS = 120


def waiting_time(since: datetime, now: datetime) -> str:
    """A short, human waiting time: '5 min', '3 h 20 min', '2 d 4 h'."""
    elapsed = max(now - since, timedelta(0))
    minutes = int(elapsed.total_seconds() // 60)
    days, hours, mins = minutes // 1440, (minutes // 60) % 24, minutes % 60
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=mins)
    return ngettext("{n} min", "{n} min", mins).format(n=mins)


def truncate(text: str, limit: int = COMPLAINT_PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _parse_urgency(raw: str) -> Urgency | None:
    if not raw:
        return None
    try:
        return Urgency(raw)
    except ValueError:
        raise ValidationFailed({"urgency": _("Unknown urgency.")}) from None


@router.get("", name="review:queue")
def queue_page(
    request: Request,
    session: SessionDep,
    user: DoctorUser,
    status: QueueStatusFilter = "open",
    urgency: Annotated[str, Query(max_length=20)] = "",
    mine: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    flt = review_cases.QueueFilter(status=status, urgency=_parse_urgency(urgency), mine=mine)
    # htmx requests of this page are the table's own periodic refresh.
    result = review_cases.queue_page(
        session,
        actor=user,
        flt=flt,
        page=page,
        per_page=review_cases.QUEUE_PAGE_SIZE,
        refresh=is_htmx(request),
    )
    filters: dict[str, Any] = {"status": status}
    if urgency:
        filters["urgency"] = urgency
    if mine:
        filters["mine"] = "1"

    def page_url(number: int) -> str:
        return url_path(request, "review:queue", query={**filters, "page": number})

    context = {
        "queue": result,
        "filters": flt,
        "status_filters": STATUS_FILTERS,
        "status_names": STATUS_NAMES,
        "urgency_names": URGENCY_NAMES,
        "urgencies": list(Urgency),
        "page_url": page_url,
        "poll_url": page_url(result.page),
        "waiting_time": waiting_time,
        "truncate": truncate,
    }
    template = "doctor/_table.html" if is_htmx(request) else "doctor/queue.html"
    response = render(request, template, context)
    # The same URL answers with a fragment or a full page: caches must tell them apart.
    response.headers["Vary"] = "HX-Request"
    return response


AdviceMode = Literal["before_decision", "no_entry", "in_field", "discarded", "preview", "kept"]


@dataclass(frozen=True)
class AdviceField:
    """The "advice to the patient" part of the review form, with the library draft's state."""

    advice: str
    mode: AdviceMode
    draft: review_service.AdviceDraft | None = None
    template: advice_library.AdviceEntry | None = None
    discarded: bool = False


def _kept_advice_field(form: dict[str, str]) -> AdviceField:
    """The advice field as the doctor last submitted it (a form shown again with errors)."""
    template = advice_library.entry_for(form.get("advice_template_label"))
    return AdviceField(
        advice=form.get("advice", ""),
        mode="kept" if template else "before_decision",
        template=template,
        discarded=form.get("advice_template_discarded") == "1",
    )


def _advice_field(
    draft: review_service.AdviceDraft | None,
    *,
    advice: str,
    previous_label: str,
    action: str,
    decided: bool,
) -> AdviceField:
    """What the advice field shows after the doctor's decision changed or a draft button.

    A draft fills the field unless the doctor has already written advice of their own, which is
    never overwritten without asking: the draft is then shown beside it to use instead.
    """
    previous = advice_library.entry_for(previous_label)
    holds_previous_draft = previous is not None and advice_library.normalise(
        advice
    ) == advice_library.normalise(advice_library.compose_draft(previous))
    own_text = bool(advice.strip()) and not holds_previous_draft
    if draft is None:
        return AdviceField(
            advice="" if holds_previous_draft else advice,
            mode="no_entry" if decided else "before_decision",
        )
    if action == "discard":
        return AdviceField(
            advice="", mode="discarded", draft=draft, template=draft.entry, discarded=True
        )
    if action == "use" or not own_text:
        return AdviceField(advice=draft.text, mode="in_field", draft=draft, template=draft.entry)
    return AdviceField(advice=advice, mode="preview", draft=draft)


def _render_case(
    request: Request,
    session: SessionDep,
    user: DoctorUser,
    consultation_id: uuid.UUID,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    case = review_cases.get_case(session, actor=user, consultation_id=consultation_id)
    messages = consultations_service.list_messages(
        session, actor=user, consultation_id=consultation_id
    )
    form = form or {}
    label_query = form.get("q", "")
    return render(
        request,
        "doctor/case.html",
        {
            "case": case,
            # The messages partial is shared with the patient's page and reads these two names.
            "consultation": case.consultation,
            "messages": messages,
            "interview": interview_service.state_if_available(
                session, actor=user, consultation_id=consultation_id
            ),
            "form": form,
            "errors": errors or {},
            "labels": review_service.search_labels(actor=user, query=label_query, limit=50),
            "selected_label": form.get("label_key", ""),
            "advice_field": _kept_advice_field(form),
            "advice_url": url_path(request, "review:advice_draft", consultation_id=consultation_id),
            "status_names": STATUS_NAMES,
            "urgency_names": URGENCY_NAMES,
        },
        status_code=status_code,
    )


@router.get("/consultations/{consultation_id}", name="review:case")
def case_page(
    request: Request, session: SessionDep, user: DoctorUser, consultation_id: uuid.UUID
) -> Response:
    return _render_case(request, session, user, consultation_id)


@router.post("/consultations/{consultation_id}/claim", name="review:claim")
def claim(
    request: Request, session: SessionDep, user: DoctorUser, consultation_id: uuid.UUID
) -> Response:
    review_service.claim(session, actor=user, consultation_id=consultation_id)
    return redirect_to(request, "review:case", consultation_id=consultation_id)


@router.post("/consultations/{consultation_id}/release", name="review:release")
def release(
    request: Request, session: SessionDep, user: DoctorUser, consultation_id: uuid.UUID
) -> Response:
    review_service.release(session, actor=user, consultation_id=consultation_id)
    return redirect_to(request, "review:queue")


@router.post("/consultations/{consultation_id}/review", name="review:sign")
def submit_review(
    request: Request,
    session: SessionDep,
    user: DoctorUser,
    consultation_id: uuid.UUID,
    posted: Annotated[ReviewForm, Form()],
) -> Response:
    form = posted.model_dump(exclude={"advice_action"})
    try:
        values: dict[str, Any] = {
            k: v
            for k, v in form.items()
            if k not in ("q", "advice_template_version", "advice_template_discarded")
            and not (k == "amends_id" and not v)
        }
        values["advice_template_version"] = (
            int(posted.advice_template_version)
            if posted.advice_template_version.isdigit()
            else None
        )
        values["advice_template_discarded"] = posted.advice_template_discarded == "1"
        data = ReviewCreate.model_validate(values)
        review_service.submit_review(
            session, actor=user, consultation_id=consultation_id, data=data
        )
    except ValidationError as exc:
        fields = field_messages(exc.errors(), fallback="decision")
        errors = {name: _review_field_message(name) for name in fields}
    except ValidationFailed as exc:
        errors = exc.errors
    else:
        return redirect_to(
            request, "review:case", consultation_id=consultation_id, query={"signed": "1"}
        )
    return _render_case(
        request, session, user, consultation_id, form=form, errors=errors, status_code=422
    )


def _review_field_message(field: str) -> str:
    if field == "decision":
        return _("Choose whether you accept, change or reject the AI suggestion.")
    if field == "amends_id":
        return _("The conclusion to amend is not valid; reload the page.")
    if field.startswith("advice_template"):
        return _("The advice draft is not valid; choose the diagnosis again.")
    return _("This value is not valid.")


@router.get("/labels", name="review:labels")
def label_search(
    request: Request,
    user: DoctorUser,
    q: Annotated[str, Query(max_length=100)] = "",
    selected: Annotated[str, Query(max_length=100)] = "",
    consultation: uuid.UUID | None = None,
) -> Response:
    labels = review_service.search_labels(actor=user, query=q, limit=50)
    context: dict[str, Any] = {"labels": labels, "selected_label": selected}
    if consultation is not None:
        # Choosing a label on a case's review form asks for that label's advice draft.
        context["advice_url"] = url_path(
            request, "review:advice_draft", consultation_id=consultation
        )
    return render(request, "doctor/_label_results.html", context)


@router.post("/consultations/{consultation_id}/advice-draft", name="review:advice_draft")
def advice_draft(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    consultation_id: uuid.UUID,
    form: Annotated[AdviceDraftForm, Form()],
) -> Response:
    """The advice field of the review form after the doctor's decision (an htmx fragment).

    Any signed-in user reaches the service, which audits a refusal."""
    draft = review_service.advice_draft_for_case(
        session,
        actor=user,
        consultation_id=consultation_id,
        decision=form.decision,
        accepted_label=form.accepted_label,
        label_key=form.label_key,
    )
    field = _advice_field(
        draft,
        advice=form.advice,
        previous_label=form.advice_template_label,
        action=form.advice_action,
        decided=bool(form.accepted_label if form.decision == "accept" else form.label_key),
    )
    return render(
        request,
        "doctor/_advice_field.html",
        {
            "advice_field": field,
            "advice_url": url_path(request, "review:advice_draft", consultation_id=consultation_id),
            "errors": {},
        },
    )
