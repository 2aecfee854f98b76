"""Role x route x owner, for pages and API, through the real request boundary.

Every route the app serves is called by each kind of caller with the path filled by a record
the caller owns, one it does not, an unknown id and a malformed one, plus bad paging parameters.
Each call runs inside a savepoint that is rolled back afterwards, so one call's writes (a
sign-out, a deactivation) never change the next call's world, while the app's own sessions
commit and roll back for real inside it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.accounts.service import start_session
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.auth import CSRF_COOKIE, session_cookie_name, signed_csrf_token
from medconsult.config import get_settings
from medconsult.main import create_app
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import NotificationKind
from tests import factories

MARKER = "Zanzibar-quokka-7731"  # appears only in patient A's clinical records
NAME_MARKER = "Wolfenstein"  # patient A's surname: admins manage accounts and may see it
# /metrics answers only its configured addresses or token (404 to everyone else).
PUBLIC = {
    "/",
    "/login",
    "/login/mfa",
    "/register",
    "/healthz",
    "/readyz",
    "/metrics",
    "/set-password/{token}",
}
# The language switcher works signed out too (a cookie).
PUBLIC_POST = {"/login", "/login/mfa", "/register", "/logout", "/set-password/{token}", "/language"}
PUBLIC_API = {
    "/api/v1/auth/login",
    "/api/v1/auth/mfa",
    "/api/v1/auth/register",
    "/api/v1/auth/logout",
}
# Routes only doctors use, whoever's record it is: 403 before any record is looked up.
DOCTOR_ONLY = re.compile(r"^/api/v1/consultations/\{consultation_id\}/(claim|reviews)$")
# The intake interview: its patient answers; a doctor reads (GET) but may not answer.
PATIENT_ANSWERS = re.compile(
    r"^(/api/v1)?/consultations/\{consultation_id\}/interview(/answer|/answers|/finish)?$"
)
CLINICAL = re.compile(r"^(/api/v1)?/(consultations|doctor|patients)/\{")
# Patient A's own notice: any other caller is told it does not exist.
OWN_NOTICE = re.compile(r"^/notifications/\{notification_id\}/")


def _routes() -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path not in {"/openapi.json", "/api/docs"}:
            found.extend((method, context.path) for method in sorted(route.methods))
    return sorted(found)


ROUTES = _routes()


@dataclass
class World:
    patient_a: User
    patient_b: User
    doctor: User
    admin: User
    consultation_id: uuid.UUID
    notification_id: uuid.UUID  # patient A's notice


@pytest.fixture
def world(session: Session) -> World:
    patient_a = factories.create_patient(session, full_name=f"Alice {NAME_MARKER}")
    consultation = factories.create_consultation(
        session, patient=patient_a, chief_complaint=f"Rash {MARKER}", history=f"History {MARKER}"
    )
    factories.create_suggestion(session, consultation=consultation)
    world = World(
        patient_a=patient_a,
        patient_b=factories.create_patient(session, full_name="Bob Other"),
        doctor=factories.create_doctor(session),
        admin=factories.create_admin(session),
        consultation_id=consultation.id,
        notification_id=notifications_service.notify(
            session,
            user=patient_a,
            kind=NotificationKind.doctor_message,
            link_path=f"/consultations/{consultation.id}",
        ).id,
    )
    session.commit()  # a savepoint of the test's transaction: visible to the app's sessions
    return world


def _fillings(path: str, world: World, caller: User | None) -> Iterator[tuple[str, str]]:
    """(kind, concrete path) for each way of filling the path's parameters."""
    if "{" not in path:
        yield "plain", path
        return
    targets = {
        "consultation_id": str(world.consultation_id),
        "patient_id": str(world.patient_a.id),
        "user_id": str(world.patient_a.id if caller is None else caller.id),
        "session_id": str(uuid.uuid4()),
        "report_id": str(uuid.uuid4()),
        "notification_id": str(world.notification_id),
        "token": "not-a-real-token",
        "label": "pneumonia",
    }
    # A parameter this sweep does not know yet still gets a value (and is caught by no-5xx).
    yield "target", re.sub(r"\{(\w+)\}", lambda m: targets.get(m.group(1), "x"), path)
    yield "unknown", re.sub(r"\{(\w+)\}", lambda m: str(uuid.uuid4()), path)
    yield "malformed", re.sub(r"\{(\w+)\}", "not-a-uuid", path)


@dataclass
class Call:
    method: str
    template: str
    kind: str
    url: str
    status: int
    body: str
    headers: dict[str, str]
    denials_audited: int  # denied audit events the call left behind


def _sweep(client: TestClient, connection: Connection, world: World, caller: User | None):  # type: ignore[no-untyped-def]
    settings = get_settings()
    calls: list[Call] = []
    leaks: list[str] = []
    for method, template in ROUTES:
        for kind, url in _fillings(template, world, caller):
            queries = [""] if method != "GET" else ["", "?page=abc", "?page=0", "?q=%00"]
            for query in queries:
                savepoint = connection.begin_nested()
                try:
                    client.cookies.clear()
                    headers = {}
                    csrf_cookie = "matrix-csrf-secret"
                    client.cookies.set(CSRF_COOKIE, csrf_cookie)
                    session_cookie = None
                    if caller is not None:
                        with Session(
                            bind=connection, join_transaction_mode="create_savepoint"
                        ) as login_session:
                            session_cookie = start_session(
                                login_session,
                                user=login_session.get(User, caller.id),  # type: ignore[arg-type]
                                settings=settings,
                            )
                            login_session.commit()
                        client.cookies.set(session_cookie_name(settings), session_cookie)
                    denied_before = _denied_events(connection)
                    token = signed_csrf_token(csrf_cookie, session_cookie)
                    headers["X-CSRF-Token"] = token
                    if template.startswith("/api/"):
                        response = client.request(
                            method, url + query, headers=headers, json={}, follow_redirects=False
                        )
                    else:
                        response = client.request(
                            method,
                            url + query,
                            headers=headers,
                            data={"csrf_token": token} if method != "GET" else None,
                            follow_redirects=False,
                        )
                    calls.append(
                        Call(
                            method,
                            template,
                            kind,
                            url + query,
                            response.status_code,
                            response.text,
                            dict(response.headers),
                            _denied_events(connection) - denied_before,
                        )
                    )
                finally:
                    # A request (or its response stream) that leaves a transaction open on the
                    # connection would leak it in production: "idle in transaction".
                    if connection.get_nested_transaction() is not savepoint:
                        leaks.append(f"{method} {url + query}")
                    savepoint.rollback()
    assert leaks == [], f"transactions left open by {leaks}"
    return calls


def _denied_events(connection: Connection) -> int:
    return (
        connection.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == Outcome.denied)
        )
        or 0
    )


CALLERS = ["anonymous", "patient_a", "patient_b", "doctor", "admin"]


@pytest.mark.parametrize("caller_name", CALLERS)
def test_matrix(client: TestClient, connection: Connection, world: World, caller_name: str) -> None:
    caller = None if caller_name == "anonymous" else getattr(world, caller_name)

    calls = _sweep(client, connection, world, caller)

    problems: list[str] = []
    for call in calls:
        where = f"{call.method} {call.url} ({call.kind})"
        api = call.template.startswith("/api/") or call.template in {"/healthz", "/readyz"}
        if call.status >= 500:
            problems.append(f"{where}: {call.status}")
        if call.headers.get("cache-control") != "no-store":
            problems.append(f"{where}: Cache-Control {call.headers.get('cache-control')}")
        if caller_name not in ("patient_a", "doctor") and MARKER in call.body:
            problems.append(f"{where}: shows patient A's clinical data to {caller_name}")
        if caller_name in ("patient_b", "anonymous") and NAME_MARKER in call.body:
            problems.append(f"{where}: shows patient A's name to {caller_name}")
        expected = _expected_status(caller_name, call, api)
        if expected is not None and call.status not in expected:
            problems.append(f"{where}: {call.status}, expected one of {sorted(expected)}")
        refused = expected in ({403}, {404}) and call.status in expected
        if caller_name != "anonymous" and refused and call.denials_audited == 0:
            problems.append(f"{where}: refused with {call.status} but not audited")
        if not api and call.status >= 400:
            problems.extend(f"{where}: {p}" for p in _error_page_problems(call, caller_name))
    assert problems == [], "\n".join(problems[:60])


def _expected_status(caller: str, call: Call, api: bool) -> set[int] | None:
    """The documented rule (``medconsult.access``): 401 (or a redirect to sign in) without a
    session; 403 for a role that may not use the route; 404 for a record the caller may not know
    exists; 403 to admins on clinical records. Every 403 and 404 of the rule is audited."""
    template = call.template
    if call.url.endswith("?q=%00"):
        return {422}  # control characters are refused before anything else looks at the request
    public = (
        template in PUBLIC_API
        if api
        else template in (PUBLIC_POST if call.method != "GET" else PUBLIC)
    )
    if caller == "anonymous":
        if public or template in {"/healthz", "/readyz"}:
            return None
        if api:
            return {401}
        return {303, 401} if call.method == "GET" else {401}
    if call.kind == "malformed" and not public:
        return {403, 404, 422}
    if call.method != "GET" and call.status == 422:
        return None  # an invalid body is refused before anything about the record is looked up
    if template.startswith(("/admin", "/api/v1/admin")):
        return None if caller == "admin" else {403}
    if template.startswith(("/doctor", "/api/v1/doctor")):
        return None if caller == "doctor" else {403}
    if DOCTOR_ONLY.match(template):
        return None if caller == "doctor" else {403}
    if PATIENT_ANSWERS.match(template) and call.method != "GET" and call.kind == "target":
        if caller in ("doctor", "admin"):
            return {403}
        if caller == "patient_b":
            return {404}
    if OWN_NOTICE.match(template) and call.kind == "target" and caller != "patient_a":
        return {404}
    if CLINICAL.match(template) and call.kind == "target":
        if caller == "admin":
            return {403}
        if caller == "patient_b":
            return {404}
    return None


def _error_page_problems(call: Call, caller: str) -> list[str]:
    body = call.body
    problems = []
    if not re.search(r'<html lang="[a-z]{2}', body):
        problems.append("error page without lang")
    if not re.search(r"<title>[^<]+</title>", body):
        problems.append("error page without a title")
    if not re.search(r"<h1[ >]", body):
        problems.append("error page without a heading")
    if caller == "patient_a" and "My consultations" not in body:
        problems.append("error page without the patient's navigation")
    if caller == "doctor" and "Review queue" not in body:
        problems.append("error page without the doctor's navigation")
    if caller == "anonymous" and "Sign in" not in body:
        problems.append("error page without a way to sign in")
    if 'class="card narrow error-page"' in body and "Back to" not in body and "Sign in" not in body:
        problems.append("error page without a way back")
    return problems


def test_refused_reads_stay_in_the_audit_trail(
    client: TestClient, session: Session, world: World
) -> None:
    factories.login(client, session, world.patient_b)
    session.commit()

    statuses = {
        client.get(f"/consultations/{world.consultation_id}").status_code for _ in range(40)
    }

    denied = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.actor_id == world.patient_b.id, AuditEvent.outcome == Outcome.denied)
    )
    assert statuses == {404}
    assert denied == 40
