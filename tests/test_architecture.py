"""Rules of the codebase that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "medconsult"


class TestWebDoesNotImportTorch:
    def test_app_and_all_routes_load_without_torch(self) -> None:
        code = (
            "import sys; from medconsult.main import create_app; create_app(); "
            "print('torch' in sys.modules)"
        )

        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        )

        assert result.stdout.strip() == "False"


class TestServicesNeverCommit:
    def test_no_commit_in_service_modules(self) -> None:
        offenders = [
            str(path.relative_to(SRC))
            for path in SRC.rglob("service.py")
            if re.search(r"\.commit\(\)", path.read_text())
        ]

        assert offenders == []


class TestTemplatesNeverMarkSafe:
    def test_no_safe_filter_in_templates(self) -> None:
        templates = SRC.parents[1] / "templates"
        offenders = [
            str(path.relative_to(templates))
            for path in templates.rglob("*.html")
            if re.search(r"\|\s*safe\b", path.read_text())
        ]

        assert offenders == []


# The layering written in README.md ("Architecture"). Top to bottom: a module may import its own
# package's modules in the same group, and anything in a group further down. Each group is a list
# of module patterns (dotted names under medconsult; a name given outright wins over a pattern).
LAYERS: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ("entry points", (("main",), ("cli",), ("setup_commands", "*.commands"))),
    (
        "http",
        (
            (
                "*.web",
                "*.api",
                "*.http",
                "*.deps",
                "web.pages",
                "web.metrics_route",
                "health",
                "middleware",
            ),
            ("web", "web.*"),
            ("auth",),
        ),
    ),
    (
        "services",
        (
            ("admin", "admin.*"),
            ("jobs", "jobs.worker", "jobs.analysis", "jobs.notifications"),
            ("records", "records.*"),
            ("review", "review.service", "review.schemas", "review.cases"),
            ("consultations", "consultations.*"),
            ("interview", "interview.*"),
            ("diagnosis", "diagnosis.service", "diagnosis.registry"),
            ("triage", "triage.service", "triage.semantic", "triage.evaluate", "triage.tune"),
            ("accounts", "accounts.*"),
            ("patients", "patients.*"),
            ("notifications", "notifications.*"),
            ("access",),
            ("audit", "audit.*"),
            ("monitoring", "monitoring.rollups"),
        ),
    ),
    (
        "data",
        (
            ("models",),
            ("review.models", "review.queries"),
            ("diagnosis.models",),
            ("jobs.models", "jobs.queries", "jobs.queue"),
            ("consultations.models", "interview.models"),
            ("patients.models",),
            ("notifications.models",),
            ("audit.models",),
            ("accounts.models",),
            ("monitoring.models",),
        ),
    ),
    (
        "libraries",
        (
            ("review.advice", "triage.advice"),
            ("ml", "ml.*"),
            ("triage.levels",),
            ("triage.rules",),
            ("triage.rules_zh",),
            # A torch-free JSON (de)serialiser for frozen dataclasses, shared by ml and triage.
            ("ml.records",),
        ),
    ),
    ("foundation", (("db", "logs", "metrics"), ("errors",), ("i18n",), ("config",))),
)


def _module_names() -> dict[str, Path]:
    names = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _rank(module: str) -> tuple[int, int, str]:
    """(layer, group, package) of a module; lower numbers sit higher."""
    import fnmatch

    for wildcard in (False, True):  # a module named outright wins over a pattern
        for layer_index, (_name, groups) in enumerate(LAYERS):
            for group_index, patterns in enumerate(groups):
                if any(
                    ("*" in pattern) is wildcard and fnmatch.fnmatchcase(module, pattern)
                    for pattern in patterns
                ):
                    return layer_index, group_index, module.split(".")[0]
    raise AssertionError(f"medconsult.{module} has no place in the layering: add it to LAYERS")


def _resolve(name: str) -> str | None:
    """The medconsult module an imported dotted name refers to (a module, or a name in one)."""
    if not name.startswith("medconsult."):
        return None
    parts = name.split(".")[1:]
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str) -> set[str]:
    """Every medconsult module `module` imports, at the top or inside a function."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(["medconsult", *base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{alias.name}" for alias in node.names] or [prefix]
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module) for module in MODULES if module}


class TestLayering:
    def test_every_module_has_a_place(self) -> None:
        for module in GRAPH:
            _rank(module)

    def test_imports_only_go_down(self) -> None:
        offenders = []
        for module, targets in GRAPH.items():
            layer, group, package = _rank(module)
            for target in targets:
                t_layer, t_group, t_package = _rank(target)
                same_slice = (t_layer, t_group, t_package) == (layer, group, package)
                if not (same_slice or (t_layer, t_group) > (layer, group)):
                    offenders.append(f"{module} -> {target}")

        assert sorted(offenders) == []

    def test_json_and_html_routes_never_import_each_other(self) -> None:
        offenders = [
            f"{module} -> {target}"
            for module, targets in GRAPH.items()
            for target in targets
            if {module.rsplit(".", 1)[-1], target.rsplit(".", 1)[-1]} == {"api", "web"}
        ]

        assert offenders == []

    def test_no_import_cycles(self) -> None:
        """No cycle between modules, nor between packages' slices of a layer."""
        import graphlib

        slices: dict[tuple[int, int, str], set[tuple[int, int, str]]] = {}
        for module, targets in GRAPH.items():
            node = _rank(module)
            slices.setdefault(node, set()).update(_rank(t) for t in targets if _rank(t) != node)

        list(graphlib.TopologicalSorter(GRAPH).static_order())
        list(graphlib.TopologicalSorter(slices).static_order())
