"""Rules of the codebase that a reviewer would otherwise have to remember."""

from __future__ import annotations

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
