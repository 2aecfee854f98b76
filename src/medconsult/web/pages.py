"""Landing page: each role starts where its work is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from medconsult.accounts.models import Role
from medconsult.auth import OptionalUser
from medconsult.web.templating import render, url_path

router = APIRouter(include_in_schema=False)

ROLE_HOME = {
    Role.patient: "consultations:list",
    Role.doctor: "review:queue",
    Role.admin: "admin:home",
}


@router.get("/", name="home")
def home(request: Request, user: OptionalUser) -> Response:
    if user is None:
        return render(request, "home.html")
    if user.must_change_password:
        return RedirectResponse(url_path(request, "accounts:password"), status_code=303)
    return RedirectResponse(url_path(request, ROLE_HOME[user.role]), status_code=303)
