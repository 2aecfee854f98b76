"""The one Jinja2 templates object, with i18n, CSRF and formatting helpers."""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.routing import NoMatchFound

from medconsult import i18n
from medconsult.auth import csrf_token, current_viewer
from medconsult.config import get_settings
from medconsult.i18n import N_

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[3] / "static"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=True,  # patient text is untrusted: never disable, never |safe it
    extensions=["jinja2.ext.i18n"],
)
templates = Jinja2Templates(env=_env)
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
)


# Dates, times and numbers for the reader's locale and time zone (stored times are UTC).
templates.env.filters["dt"] = i18n.format_dt
templates.env.filters["day"] = i18n.format_day
templates.env.filters["number"] = i18n.format_number
templates.env.filters["percent"] = i18n.format_percent
templates.env.globals["settings"] = get_settings
templates.env.globals["current_locale"] = i18n.current_locale.get
templates.env.globals["html_lang"] = i18n.html_lang
templates.env.globals["language_names"] = i18n.LANGUAGE_NAMES


def _abstain_reasons(suggestion: Any) -> tuple[str, ...]:
    from medconsult.diagnosis.service import abstain_reason_labels

    return abstain_reason_labels(suggestion)


templates.env.globals["abstain_reasons"] = _abstain_reasons


# Enum values that templates translate as they are (``_(user.role.value)``,
# ``_(sex.value|capitalize)``): marked here so that extraction finds them.
ENUM_MESSAGES = (
    *(N_("patient"), N_("doctor"), N_("admin")),
    *(N_("success"), N_("failure"), N_("denied")),
    *(N_("female"), N_("male"), N_("other"), N_("unknown")),
    *(N_("Female"), N_("Male"), N_("Other"), N_("Unknown")),
)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "csrf_token": csrf_token(request),
        "current_user": current_viewer(request),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def url_path(
    request: Request,
    name: str,
    /,
    *,
    query: Mapping[str, Any] | None = None,
    fragment: str = "",
    **path_params: Any,
) -> str:
    """The path of a named route (``request.url_for``), with a query string and a fragment."""
    url = _route_path(request, name, path_params)
    if query:
        url += "?" + urlencode(query, safe="/", quote_via=quote)
    return url + (f"#{fragment}" if fragment else "")


# Finding a named route walks the app's routes, one exception per route that does not match: a
# fraction of a millisecond that a table of links paid once per row. The path of a route with
# placeholders for its parameters is therefore looked up once per app, name and parameter names
# (checked against the framework's own answer when stored) and filled in for later calls.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_-]+")
_RouteKey = tuple[str, str, frozenset[str]]
_route_templates: weakref.WeakKeyDictionary[Any, dict[_RouteKey, tuple[str, ...] | None]] = (
    weakref.WeakKeyDictionary()
)


def _route_path(request: Request, name: str, path_params: Mapping[str, Any]) -> str:
    values = {key: str(value) for key, value in path_params.items()}
    templates_of_app = _route_templates.setdefault(request.app, {})
    key = (request.scope.get("root_path", ""), name, frozenset(values))
    template = templates_of_app.get(key)
    # Values of other kinds (a slash, an encoded character) go through the framework.
    if template is not None and all(map(_SAFE_VALUE.fullmatch, values.values())):
        return _filled(template, values)
    path = str(request.url_for(name, **path_params).path)
    if key not in templates_of_app:
        templates_of_app[key] = _route_template(request, name, values, path)
    return path


def _placeholder(key: str) -> str:
    return f"__{key}__"


def _filled(template: tuple[str, ...], values: Mapping[str, str]) -> str:
    """``template``: literal text and parameter names in turn."""
    return "".join(values[part] if index % 2 else part for index, part in enumerate(template))


def _route_template(
    request: Request, name: str, values: Mapping[str, str], path: str
) -> tuple[str, ...] | None:
    """The route's path split around its parameters, or None where filling them in would not
    give the framework's own ``path`` (a converter that transforms or refuses the value)."""
    if not all(map(_SAFE_VALUE.fullmatch, values.values())):
        return None
    placeholders = {_placeholder(key): key for key in values}
    try:
        with_placeholders = str(
            request.url_for(name, **{key: text for text, key in placeholders.items()}).path
        )
    except (AssertionError, ValueError, NoMatchFound):
        return None
    if any(with_placeholders.count(placeholder) != 1 for placeholder in placeholders):
        return None
    if not placeholders:
        return (path,) if with_placeholders == path else None
    parts = re.split("(" + "|".join(map(re.escape, placeholders)) + ")", with_placeholders)
    template = tuple(placeholders[part] if index % 2 else part for index, part in enumerate(parts))
    return template if _filled(template, values) == path else None


def redirect_to(request: Request, name: str, /, **url: Any) -> Response:
    """Post/redirect/get to a named route (``url``: as for ``url_path``), htmx-aware."""
    return redirect(request, url_path(request, name, **url))


def redirect(request: Request, url: str) -> Response:
    """Post/redirect/get, htmx-aware."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@jinja2.pass_context
def _url_path(context: Any, name: str, /, **url: Any) -> str:
    return url_path(context["request"], name, **url)


# Templates link with url_path("consultations:detail", consultation_id=...): a relative path.
templates.env.globals["url_path"] = _url_path


@jinja2.pass_context
def _optional_url(context: Any, name: str, /, **url: Any) -> str | None:
    """Like ``url_path``, or None where the app has no such route (a feature another part of
    the product may or may not provide, such as the structured interview)."""
    try:
        return url_path(context["request"], name, **url)
    except NoMatchFound:
        return None


templates.env.globals["optional_url"] = _optional_url
