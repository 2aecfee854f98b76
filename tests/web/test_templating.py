"""Links from templates: ``url_path`` gives the framework's own path for every route and value."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import NoMatchFound

from medconsult.web.templating import url_path


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/cases/{case_id}", name="case")
    def case(case_id: str) -> None: ...

    @app.get("/cases/{case_id}/notes/{note_id}", name="note")
    def note(case_id: str, note_id: str) -> None: ...

    @app.get("/numbered/{number:int}", name="numbered")
    def numbered(number: int) -> None: ...

    @app.get("/files/{name:path}", name="file")
    def file(name: str) -> None: ...

    @app.get("/home", name="home")
    def home() -> None: ...

    return app


def _request(app: FastAPI, root_path: str = "") -> Request:
    return Request(
        {
            "type": "http",
            "app": app,
            "router": app.router,
            "root_path": root_path,
            "path": "/",
            "method": "GET",
            "headers": [],
            "query_string": b"",
            "server": ("testserver", 443),
            "scheme": "https",
        }
    )


def _framework(request: Request, route: str, /, **params: Any) -> str:
    return str(request.url_for(route, **params).path)


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("case", {"case_id": uuid.UUID(int=1)}),
    ("case", {"case_id": uuid.UUID(int=2)}),
    ("case", {"case_id": "with space"}),
    ("case", {"case_id": "__case_id__"}),
    ("note", {"case_id": "a", "note_id": "__case_id__"}),
    ("note", {"case_id": uuid.UUID(int=3), "note_id": 7}),
    ("numbered", {"number": 5}),
    ("numbered", {"number": 12}),
    ("file", {"name": "a/b/c.txt"}),
    ("file", {"name": "plain"}),
    ("home", {}),
]


class TestUrlPath:
    @pytest.mark.parametrize("root_path", ["", "/mounted"])
    def test_equals_the_frameworks_path_on_first_and_later_calls(self, root_path: str) -> None:
        request = _request(_app(), root_path)

        for _ in range(2):
            for name, params in CALLS:
                assert url_path(request, name, **params) == _framework(request, name, **params)

    def test_each_root_path_keeps_its_own_prefix(self) -> None:
        app = _app()
        case_id = uuid.uuid4()

        plain = url_path(_request(app), "case", case_id=case_id)
        mounted = url_path(_request(app, "/mounted"), "case", case_id=case_id)

        assert plain == f"/cases/{case_id}"
        assert mounted == f"/mounted/cases/{case_id}"

    def test_query_and_fragment(self) -> None:
        request = _request(_app())

        path = url_path(request, "case", case_id="x", query={"page": 2}, fragment="top")

        assert path == "/cases/x?page=2#top"

    def test_unknown_routes_and_parameters_still_fail(self) -> None:
        request = _request(_app())
        url_path(request, "case", case_id="known")

        with pytest.raises(NoMatchFound):
            url_path(request, "case", other="x")
        with pytest.raises(NoMatchFound):
            url_path(request, "missing", case_id="x")

    def test_later_links_to_a_route_skip_the_route_search(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        request = _request(_app())
        url_path(request, "note", case_id=uuid.UUID(int=1), note_id=1)

        def no_search(*_: Any, **__: Any) -> None:
            raise AssertionError("searched the routes")

        monkeypatch.setattr(Request, "url_for", no_search)

        assert url_path(request, "note", case_id=uuid.UUID(int=9), note_id=3) == (
            f"/cases/{uuid.UUID(int=9)}/notes/3"
        )
        # A value that needs the framework's converter still gets it.
        with pytest.raises(AssertionError, match="searched"):
            url_path(request, "note", case_id="a/b", note_id=3)
