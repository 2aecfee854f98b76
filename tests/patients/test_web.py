from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_doctor, create_patient, login


class TestProfilePage:
    def test_saves_and_escapes_script(self, client: TestClient, session: Session) -> None:
        token = login(client, session, create_patient(session))

        saved = client.post(
            "/profile",
            data={"csrf_token": token, "full_name": "<script>alert(1)</script>", "sex": "female"},
            follow_redirects=False,
        )
        page = client.get("/profile")

        assert saved.status_code == 303
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert(1)</script>" not in page.text

    def test_invalid_phone_shows_field_error(self, client: TestClient, session: Session) -> None:
        token = login(client, session, create_patient(session))

        response = client.post(
            "/profile", data={"csrf_token": token, "phone": "call me maybe", "sex": "female"}
        )

        assert response.status_code == 422
        assert 'id="phone-error"' in response.text

    def test_doctor_has_no_profile_page(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))

        response = client.get("/profile")

        assert response.status_code == 403
