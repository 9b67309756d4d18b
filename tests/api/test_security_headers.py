"""Response headers, private API docs and the customer socket's origin rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.api.security_headers import demo_page_headers
from bot.app import WEB_DIR, create_app
from bot.config import Settings
from bot.services import Models
from tests.staff.support import cheap_passwords, staff  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def app_client(settings: Settings, models: Models, **changes: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=changes), models))


PATHS = ["/", "/widget.js", "/healthz", "/api/auth/me", "/console/login", "/nowhere"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_forbids_type_sniffing(client: TestClient, path: str) -> None:
    assert client.get(path).headers["X-Content-Type-Options"] == "nosniff"


def test_demo_page_has_a_content_security_policy_and_frame_policy(client: TestClient) -> None:
    headers = client.get("/").headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert policy.endswith("frame-ancestors 'self'")
    assert headers["X-Frame-Options"] == "SAMEORIGIN"


def test_demo_page_allows_exactly_its_own_inline_styles() -> None:
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    policy = demo_page_headers(html, [])["Content-Security-Policy"]
    assert policy.count("'sha256-") == html.count("<style>") == 1
    assert "style=" not in html, "inline style attributes are blocked by the policy"
    changed = demo_page_headers(html.replace("--brand: #8a5a2b", "--brand: red"), [])
    assert changed["Content-Security-Policy"] != policy


def test_embedding_sites_come_from_the_setting(settings: Settings, models: Models) -> None:
    with app_client(settings, models, frame_ancestors=["https://shop.example"]) as client:
        headers = client.get("/").headers
    assert headers["Content-Security-Policy"].endswith("frame-ancestors 'self' https://shop.example")
    assert "X-Frame-Options" not in headers


def test_console_pages_can_never_be_framed(client: TestClient) -> None:
    headers = client.get("/console/login").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/api/auth/me", "/api/conversations", "/api/nowhere"])
def test_api_responses_are_never_cached(client: TestClient, path: str) -> None:
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_api_responses_with_a_session_are_never_cached(client: TestClient) -> None:
    ann = staff(client, "ann")
    response = client.get("/api/auth/me", headers=ann.headers())
    assert response.status_code == 200 and "csrf_token" in response.json()
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_api_docs_need_a_staff_login(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    ann = staff(client, "ann")
    response = client.get(path, headers=ann.headers(csrf=False))
    assert response.status_code == 200
    if path == "/openapi.json":
        assert "/api/auth/login" in response.json()["paths"]


def test_api_docs_are_public_when_the_setting_says_so(settings: Settings, models: Models) -> None:
    with app_client(settings, models, public_api_docs=True) as client:
        assert client.get("/docs").status_code == 200
        assert "/api/auth/login" in client.get("/openapi.json").json()["paths"]


@pytest.fixture
def shop_only(settings: Settings, models: Models) -> Iterator[TestClient]:
    with app_client(settings, models, widget_allowed_origins=["https://shop.example/"]) as client:
        yield client


def test_customer_socket_from_an_allowed_origin_is_accepted(shop_only: TestClient) -> None:
    with shop_only.websocket_connect("/ws/chat", headers={"origin": "https://SHOP.example"}) as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "welcome"


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example"}, {}])
def test_customer_socket_from_another_origin_is_refused_at_the_handshake(
    shop_only: TestClient, headers: dict[str, str]
) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        shop_only.websocket_connect("/ws/chat", headers=headers).__enter__()
    assert refused.value.code == 1008


def test_the_servers_own_demo_page_may_always_open_a_customer_socket(shop_only: TestClient) -> None:
    with shop_only.websocket_connect("/ws/chat", headers={"origin": "http://testserver"}) as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "welcome"


def test_any_origin_may_open_a_customer_socket_when_no_list_is_set(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat", headers={"origin": "https://anywhere.example"}) as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "welcome"
