"""The staff API and the staff socket: every role rule, sessions, CSRF, labels and live hand-off.

Requests carry each staff member's session in explicit headers (``Login.headers``), so one
client plays several staff members and customers at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from starlette.websockets import WebSocketDisconnect

from bot.api.staff_deps import SESSION_COOKIE
from bot.app import create_app
from bot.config import Settings
from bot.db.models import CsatRating, Label, Message, Prediction, StaffSession
from bot.services import Models
from tests.staff.support import (
    PASSWORD,
    Login,
    assert_quiet,
    cheap_hashing,
    cheap_passwords,  # noqa: F401 - fixture
    create_staff,
    factory_of,
    login,
    next_frame,
    receive_within,
    staff,
)

pytestmark = pytest.mark.usefixtures("cheap_passwords")

ROLES = ("agent", "operator", "admin")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    role: str
    body: dict[str, Any] | None = None
    # Path values of this route's own, e.g. an id that does not exist, so that the admitted
    # role's request of a destructive route changes nothing the other routes rely on.
    values: dict[str, str] | None = None


# Every /api route but login, with the weakest role allowed. A new route must be added here
# (test_every_staff_route_has_a_role_rule fails until it is).
ROUTES = [
    Route("GET", "/api/auth/me", "agent"),
    Route("POST", "/api/auth/logout", "agent"),
    Route("GET", "/api/users", "admin"),
    Route("POST", "/api/users", "admin", {"username": "newbie", "password": "x" * 12, "role": "agent"}),
    Route("PATCH", "/api/users/{username}", "admin", {"display_name": "Target"}),
    Route("POST", "/api/users/{username}/password", "admin", {"password": "y" * 12}),
    Route("GET", "/api/conversations", "agent"),
    Route("GET", "/api/conversations/{conversation_id}", "agent"),
    Route("POST", "/api/conversations/{conversation_id}/reviewed", "agent", {"reviewed": True}),
    Route("GET", "/api/messages/{message_id}/labels", "agent"),
    Route("POST", "/api/messages/{message_id}/labels", "agent", {"intent": "cancel_order"}),
    Route("POST", "/api/messages/{message_id}/citation", "agent", {"article_id": "return-policy"}),
    Route("GET", "/api/intents", "agent"),
    Route("GET", "/api/review-queue", "agent"),
    Route("GET", "/api/intent-proposals", "agent"),
    Route("POST", "/api/intent-proposals/{name}/approve", "operator"),
    Route("POST", "/api/intent-proposals/{name}/reject", "operator"),
    Route("GET", "/api/csat", "agent"),
    Route("GET", "/api/analytics/summary", "agent"),
    Route("GET", "/api/analytics/timeseries", "agent"),
    Route("GET", "/api/analytics/actions", "agent"),
    Route("GET", "/api/insights/clusters", "agent"),
    # No ticked turns (an invalid body): the role is admitted and nothing is labelled.
    Route("POST", "/api/insights/clusters/labels", "operator", {"intent": "x", "message_ids": []}),
    Route("GET", "/api/live", "agent"),
    Route("POST", "/api/conversations/{conversation_id}/take-over", "agent"),
    Route("POST", "/api/conversations/{conversation_id}/hand-back", "agent", {}),
    Route("POST", "/api/conversations/{conversation_id}/close", "agent", {}),
    Route("POST", "/api/conversations/{conversation_id}/messages", "agent", {"text": "hello"}),
    Route("POST", "/api/conversations/{conversation_id}/assign", "agent", {"username": None}),
    Route("GET", "/api/assignees", "agent"),
    Route("GET", "/api/conversations/{conversation_id}/notes", "agent"),
    Route("POST", "/api/conversations/{conversation_id}/notes", "agent", {"text": "called back"}),
    Route("GET", "/api/conversations/{conversation_id}/customer", "agent"),
    Route("GET", "/api/canned-replies", "agent"),
    # Invalid bodies and unknown ids: the role is admitted and nothing is changed.
    Route("POST", "/api/canned-replies", "operator", {"shortcut": "NOT VALID", "text": "x"}),
    Route("PUT", "/api/canned-replies/{reply_id}", "operator", {"shortcut": "x", "text": "x"}),
    Route("DELETE", "/api/canned-replies/{reply_id}", "operator"),
    Route("POST", "/api/labels", "agent", {"message_ids": [], "intent": "cancel_order"}),
    Route("GET", "/api/adapters", "operator"),
    Route("GET", "/api/adapters/{family}/{version}", "operator"),
    Route("POST", "/api/adapters/{family}/{version}/promote", "operator", {"reason": "x"}),
    Route("POST", "/api/adapters/rollback", "operator", {"reason": "x"}),
    Route("POST", "/api/adapters/{family}/{version}/shadow", "operator", {"on": False}),
    Route("GET", "/api/rounds", "operator"),
    # An invalid body: the role is admitted and no round is started.
    Route("POST", "/api/rounds", "operator", {"epochs": 0}),
    Route("GET", "/api/rounds/{round_id}", "operator"),
    Route("POST", "/api/rounds/{round_id}/cancel", "operator"),
    Route("POST", "/api/rounds/{round_id}/promote", "operator", {"reason": "x"}),
    Route("POST", "/api/rounds/{round_id}/shadow", "operator", {"on": True}),
    Route("POST", "/api/rounds/{round_id}/discard", "operator", {"reason": "x"}),
    Route("GET", "/api/content/responses", "agent"),
    Route("GET", "/api/content/responses/{intent}", "agent"),
    # Invalid bodies and unknown names: the role is admitted and nothing is changed.
    Route("PUT", "/api/content/responses/{intent}", "operator", {}),
    Route("DELETE", "/api/content/responses/{intent}", "operator", values={"intent": "no_such_intent"}),
    Route("GET", "/api/content/responses/{intent}/history", "agent"),
    Route("GET", "/api/content/articles", "agent"),
    Route("GET", "/api/content/articles/{article_id}", "agent"),
    Route("PUT", "/api/content/articles/{article_id}", "operator", {}),
    Route(
        "DELETE", "/api/content/articles/{article_id}", "operator", values={"article_id": "no-such-article"}
    ),
    Route("GET", "/api/content/articles/{article_id}/history", "agent"),
    Route("GET", "/api/content/actions", "agent"),
    Route("GET", "/api/content/actions/validators", "agent"),
    Route("GET", "/api/content/actions/{name}", "agent"),
    # An invalid definition and an unknown action: the role is admitted and nothing is changed.
    Route("PUT", "/api/content/actions/{name}", "operator", {}),
    Route("DELETE", "/api/content/actions/{name}", "operator"),
    Route("GET", "/api/content/actions/{name}/history", "agent"),
    Route("POST", "/api/content/actions/{name}/test", "operator", {}),
    Route("POST", "/api/privacy/search", "admin", {}),
    Route("POST", "/api/privacy/erasures", "admin", {}),
    Route("GET", "/api/privacy/erasures", "admin"),
    Route("GET", "/api/privacy/status", "admin"),
    Route(
        "DELETE",
        "/api/conversations/{conversation_id}",
        "admin",
        values={"conversation_id": "00000000-0000-4000-8000-000000000000"},
    ),
]


def hello(ws: Any, token: str | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token, "last_seq": None})
    return next_frame(ws, "welcome")


def say(ws: Any, text: str, client_id: str, answered: bool = True, **extra: Any) -> dict[str, Any]:
    """Send a customer message; returns its ack, after the bot's reply when ``answered``."""
    ws.send_json({"type": "message", "client_id": client_id, "text": text, **extra})
    ack = next_frame(ws, "ack", client_id=client_id)
    if answered:
        ack["reply"] = next_frame(ws, "message", role="bot", reply_to=ack["seq"])
    return ack


def count(client: TestClient, model: type, *where: Any) -> int:
    with factory_of(client)() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@dataclass
class World:
    client: TestClient
    logins: dict[str, Login]
    customer_token: str
    values: dict[str, str]

    def path(self, route: Route) -> str:
        return route.path.format(**{**self.values, **(route.values or {})})


@pytest.fixture(scope="module")
def world(
    models: Models, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One app with a staff member of each role and one customer conversation, for the role matrix."""
    database = tmp_path_factory.mktemp("roles") / "bot.sqlite3"
    settings = base_settings.model_copy(update={"database_url": f"sqlite:///{database}"})
    with cheap_hashing(), TestClient(create_app(settings, models)) as client:
        logins = {role: staff(client, role, role) for role in ROLES}
        create_staff(client, "target")
        with client.websocket_connect("/ws/chat") as ws:
            welcome = hello(ws)
            ack = say(ws, "where is my parcel", "c1")
        with factory_of(client)() as session:
            message_id = session.scalar(select(Message.id).where(Message.seq == ack["seq"]))
        values = {
            "conversation_id": welcome["conversation_id"],
            "message_id": str(message_id),
            "name": "gift_wrapping",
            "username": "target",
            "family": "default",
            "version": "v1",
            "round_id": "20200101T000000Z-000000",
            "intent": "track_order",
            "article_id": "return-policy",
            "reply_id": "999999",
        }
        yield World(client, logins, welcome["token"], values)


def request(world: World, route: Route, headers: dict[str, str]) -> int:
    response = world.client.request(route.method, world.path(route), json=route.body, headers=headers)
    return response.status_code


def test_every_staff_route_has_a_role_rule(world: World) -> None:
    schema = world.client.app.openapi()  # type: ignore[attr-defined]
    app_routes = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    covered = {(route.method, route.path) for route in ROUTES} | {("POST", "/api/auth/login")}
    assert app_routes == covered


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_refuses_anonymous_and_customer_tokens(world: World, route: Route) -> None:
    token = world.customer_token
    assert request(world, route, {}) == 401
    assert request(world, route, {"cookie": f"{SESSION_COOKIE}={token}"}) == 401
    assert request(world, route, {"authorization": f"Bearer {token}"}) == 401
    assert request(world, route, {"cookie": f"session={token}; token={token}"}) == 401


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_refuses_weaker_roles_and_admits_its_role(world: World, route: Route) -> None:
    rank = ROLES.index(route.role)
    for weaker in ROLES[:rank]:
        assert request(world, route, world.logins[weaker].headers()) == 403, weaker
    # Logging out would end the shared session; that route gets a login of its own.
    allowed = (
        login(world.client, route.role) if route.path == "/api/auth/logout" else world.logins[route.role]
    )
    assert request(world, route, allowed.headers()) not in (401, 403)


def test_console_page_needs_a_staff_session(client: TestClient) -> None:
    anonymous = client.get("/console", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/login"
    agent = staff(client, "ann")
    page = client.get("/console", headers=agent.headers(csrf=False))
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/console/login").status_code == 200
    assert client.get("/console/../bot/config.py").status_code == 404


def test_login_cookie_is_httponly_samesite_and_lasts_the_configured_time(
    settings: Settings, models: Models
) -> None:
    settings = settings.model_copy(update={"staff_session_hours": 2.0})
    with TestClient(create_app(settings, models)) as client:
        create_staff(client, "ann")
        response = client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "max-age=7200" in cookie and "secure" not in cookie
    expires = dt.datetime.fromisoformat(response.json()["expires_at"])
    assert abs((expires - dt.datetime.now(dt.UTC)) - dt.timedelta(hours=2)) < dt.timedelta(minutes=1)
    assert response.json()["csrf_token"]


def test_secure_setting_marks_the_cookie_secure(settings: Settings, models: Models) -> None:
    with TestClient(create_app(settings.model_copy(update={"staff_cookie_secure": True}), models)) as client:
        create_staff(client, "ann")
        response = client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    assert "secure" in response.headers["set-cookie"].lower()


def test_wrong_password_is_refused_without_a_cookie(client: TestClient) -> None:
    create_staff(client, "ann")
    response = client.post("/api/auth/login", json={"username": "ann", "password": "not the password"})
    assert response.status_code == 401 and response.json()["code"] == "bad_credentials"
    assert SESSION_COOKIE not in response.cookies
    unknown = client.post("/api/auth/login", json={"username": "nobody", "password": "not the password"})
    assert unknown.status_code == 401


def test_state_changes_need_the_csrf_header_and_a_same_site_origin(client: TestClient) -> None:
    agent = staff(client, "ann")
    with client.websocket_connect("/ws/chat") as ws:
        conversation = hello(ws)["conversation_id"]
    path = f"/api/conversations/{conversation}/reviewed"
    no_header = client.post(path, json={}, headers=agent.headers(csrf=False))
    wrong = client.post(path, json={}, headers={**agent.headers(), "X-CSRF-Token": "guess"})
    foreign = client.post(path, json={}, headers={**agent.headers(), "origin": "https://evil.example"})
    assert (no_header.status_code, wrong.status_code, foreign.status_code) == (403, 403, 403)
    assert (
        client.get(f"/api/conversations/{conversation}", headers=agent.headers()).json()["conversation"][
            "reviewed_at"
        ]
        is None
    )
    same_site = client.post(path, json={}, headers={**agent.headers(), "origin": "http://testserver"})
    assert same_site.status_code == 200 and same_site.json()["reviewed_by"] == "ann"
    cross_site_login = client.post(
        "/api/auth/login",
        json={"username": "ann", "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert cross_site_login.status_code == 403


def test_expired_session_is_refused(client: TestClient) -> None:
    agent = staff(client, "ann")
    assert client.get("/api/auth/me", headers=agent.headers()).status_code == 200
    with factory_of(client)() as session:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.execute(update(StaffSession).values(expires_at=past))
        session.commit()
    assert client.get("/api/auth/me", headers=agent.headers()).status_code == 401
    assert count(client, StaffSession) == 0


def test_logout_ends_the_session_and_closes_its_live_sockets(client: TestClient) -> None:
    agent = staff(client, "ann")
    with client.websocket_connect("/ws/staff", headers=agent.headers(csrf=False)) as ws:
        assert receive_within(ws)["type"] == "hello"
        assert client.post("/api/auth/logout", headers=agent.headers()).status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            receive_within(ws)
    assert closed.value.code == 4401
    assert client.get("/api/auth/me", headers=agent.headers()).status_code == 401
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws/staff", headers=agent.headers()):
        pass


def test_staff_socket_closes_when_the_session_expires(settings: Settings, models: Models) -> None:
    settings = settings.model_copy(update={"staff_session_hours": 1.5 / 3600})
    with TestClient(create_app(settings, models)) as client:
        agent = staff(client, "ann")
        with client.websocket_connect("/ws/staff", headers=agent.headers(csrf=False)) as ws:
            assert receive_within(ws)["type"] == "hello"
            with pytest.raises(WebSocketDisconnect) as closed:
                receive_within(ws, seconds=10)
    assert closed.value.code == 4401


def test_disabling_an_account_closes_its_sockets(client: TestClient) -> None:
    admin, agent = staff(client, "root", "admin"), staff(client, "ann")
    with client.websocket_connect("/ws/staff", headers=agent.headers(csrf=False)) as ws:
        receive_within(ws)
        response = client.patch("/api/users/ann", json={"active": False}, headers=admin.headers())
        assert response.status_code == 200 and response.json()["active"] is False
        with pytest.raises(WebSocketDisconnect) as closed:
            receive_within(ws)
    assert closed.value.code == 4401
    assert client.get("/api/auth/me", headers=agent.headers()).status_code == 401


def test_staff_socket_refuses_customers_and_foreign_origins(client: TestClient) -> None:
    agent = staff(client, "ann")
    with client.websocket_connect("/ws/chat") as ws:
        token = hello(ws)["token"]
    for headers in (
        {},
        {"cookie": f"{SESSION_COOKIE}={token}"},
        {**agent.headers(csrf=False), "origin": "https://evil.example"},
    ):
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws/staff", headers=headers):
            pass
    same_site = {**agent.headers(csrf=False), "origin": "http://testserver"}
    with client.websocket_connect("/ws/staff", headers=same_site) as ws:
        assert receive_within(ws)["user"]["username"] == "ann"


def test_labels_through_the_api_keep_their_history(client: TestClient) -> None:
    agent, operator = staff(client, "ann"), staff(client, "olga", "operator")
    with client.websocket_connect("/ws/chat") as ws:
        conversation = hello(ws)["conversation_id"]
        seq = say(ws, "where is my parcel", "c1")["seq"]
    with factory_of(client)() as session:
        message_id = session.scalar(select(Message.id).where(Message.seq == seq))
    path = f"/api/messages/{message_id}/labels"
    first = client.post(path, json={"intent": "cancel_order"}, headers=agent.headers())
    second = client.post(path, json={"intent": "gift_wrapping", "propose": True}, headers=operator.headers())
    refused = client.post(path, json={"intent": "made_up"}, headers=agent.headers())
    assert (first.status_code, second.status_code) == (201, 201)
    assert refused.status_code == 422 and refused.json()["code"] == "unknown_intent"
    history = client.get(path, headers=agent.headers()).json()
    assert [(row["intent"], row["created_by"]) for row in history["labels"]] == [
        ("cancel_order", "ann"),
        ("gift_wrapping", "olga"),
    ]
    assert history["label"]["intent"] == "gift_wrapping"
    assert count(client, Label, Label.source == "staff") == 2
    intents = client.get("/api/intents", headers=agent.headers()).json()
    assert "track_order" in intents["intents"]
    assert [p["name"] for p in intents["proposals"]] == ["gift_wrapping"]
    approved = client.post("/api/intent-proposals/gift_wrapping/approve", headers=operator.headers())
    assert approved.status_code == 200 and approved.json()["decided_by"] == "olga"
    transcript = client.get(f"/api/conversations/{conversation}", headers=agent.headers()).json()
    turn = transcript["messages"][0]
    assert turn["prediction"]["intent"] == "track_order" and turn["label"]["intent"] == "gift_wrapping"


def test_list_filters_arrive_from_the_query_string(client: TestClient) -> None:
    agent = staff(client, "ann")
    with client.websocket_connect("/ws/chat") as ws:
        parcel = hello(ws)["conversation_id"]
        say(ws, "where is my parcel", "c1")
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "I forgot my password", "c1")

    def listed(**params: Any) -> list[str]:
        response = client.get("/api/conversations", params=params, headers=agent.headers())
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    today = dt.date.today().isoformat()
    assert listed(q="PARCEL") == [parcel]
    assert listed(intent="track_order", reviewed="false", **{"from": today, "to": today}) == [parcel]
    assert listed(confidence_below=0.0) == []
    assert len(listed(page_size=1)) == 1
    assert (
        client.get("/api/conversations", params={"page_size": 1000}, headers=agent.headers()).status_code
        == 422
    )


def test_handoff_take_over_agent_messages_shadow_predictions_and_hand_back(client: TestClient) -> None:
    ann = staff(client, "ann", display_name="Ann from Support")
    ben = staff(client, "ben")
    with (
        client.websocket_connect("/ws/staff", headers=ann.headers(csrf=False)) as desk,
        client.websocket_connect("/ws/chat") as customer,
    ):
        next_frame(desk, "hello")
        conversation = hello(customer)["conversation_id"]
        assert say(customer, "i want to talk to a real human please", "c1")["reply"]["action"] == "handoff"
        assert next_frame(customer, "status")["state"] == "waiting"
        assert next_frame(desk, "status", conversation_id=conversation)["state"] == "waiting"
        live = client.get("/api/live", headers=ann.headers()).json()["conversations"]
        assert [row["id"] for row in live] == [conversation]
        desk.send_json({"type": "watch", "conversation_id": conversation})

        base = f"/api/conversations/{conversation}"
        assert client.post(f"{base}/take-over", headers=ann.headers()).status_code == 200
        taken = client.post(f"{base}/take-over", headers=ben.headers())
        assert taken.status_code == 409 and taken.json()["code"] == "taken"
        status = next_frame(customer, "status")
        assert status == {"type": "status", "state": "agent", "agent_name": "Ann from Support"}

        desk.send_json({"type": "typing", "conversation_id": conversation})
        assert next_frame(customer, "typing")["agent_name"] == "Ann from Support"
        sent = client.post(f"{base}/messages", json={"text": "Hi, Ann here."}, headers=ann.headers())
        assert sent.status_code == 201
        agent_message = next_frame(customer, "message")
        assert (agent_message["role"], agent_message["text"]) == ("agent", "Hi, Ann here.")
        assert (
            agent_message["agent_name"] == "Ann from Support" and agent_message["seq"] == sent.json()["seq"]
        )
        assert (
            client.post(f"{base}/messages", json={"text": "me too"}, headers=ben.headers()).status_code == 409
        )

        ack = say(customer, "where is my parcel?", "c2", answered=False)
        seen = next_frame(desk, "message", role="user")
        assert (seen["text"], seen["seq"]) == ("where is my parcel?", ack["seq"])
        # The staff socket hears of the turn only after the bot has had its (silent) go at it.
        assert count(client, Message, Message.role == "bot", Message.seq > ack["seq"]) == 0
        with factory_of(client)() as session:
            shadow = session.scalars(
                select(Prediction)
                .join(Message)
                .where(Message.seq == ack["seq"], Message.conversation_id == conversation)
            ).one()
        assert shadow.shadow is True and shadow.intent == "track_order"
        assert_quiet(customer, ignore=("typing",))

        assert client.post(f"{base}/hand-back", json={}, headers=ann.headers()).status_code == 200
        assert next_frame(customer, "status")["state"] == "bot"
        assert say(customer, "where is my parcel?", "c3")["reply"]["intent"]["name"] == "track_order"

        assert client.post(f"{base}/close", json={}, headers=ben.headers()).status_code == 200
        assert next_frame(customer, "status")["state"] == "closed"
        # Writing again after the close brings the bot back.
        assert say(customer, "thanks a lot", "c4")["reply"]["role"] == "bot"
        assert next_frame(customer, "status")["state"] == "bot"

    transcript = client.get(f"/api/conversations/{conversation}", headers=ann.headers()).json()
    roles = [message["role"] for message in transcript["messages"]]
    assert roles == ["user", "bot", "agent", "user", "user", "bot", "user", "bot"]
    assert transcript["conversation"]["status"] == "bot"
    assert transcript["messages"][3]["prediction"]["shadow"] is True


def test_customer_resuming_a_taken_conversation_learns_who_is_there(client: TestClient) -> None:
    ann = staff(client, "ann", display_name="Ann")
    with client.websocket_connect("/ws/chat") as customer:
        welcome = hello(customer)
    client.post(f"/api/conversations/{welcome['conversation_id']}/take-over", headers=ann.headers())
    with client.websocket_connect("/ws/chat") as customer:
        hello(customer, welcome["token"])
        assert next_frame(customer, "status") == {"type": "status", "state": "agent", "agent_name": "Ann"}


def test_talk_to_a_person_suggestion_puts_the_chat_in_the_waiting_queue(client: TestClient) -> None:
    ann = staff(client, "ann")
    client.app.state.services.chat.settings.out_of_scope = 1.01  # type: ignore[attr-defined]
    with client.websocket_connect("/ws/chat") as customer:
        conversation = hello(customer)["conversation_id"]
        offer = say(customer, "what is the capital of peru", "c1")["reply"]
        assert offer["action"] == "offer_human" and offer["suggestions"] == ["Talk to a person"]
        clicked = say(customer, "Talk to a person", "c2", choice={"seq": offer["seq"], "index": 0})
        assert clicked["reply"]["action"] == "handoff"
        assert next_frame(customer, "status")["state"] == "waiting"
    live = client.get("/api/live", headers=ann.headers()).json()["conversations"]
    assert [(row["id"], row["status"]) for row in live] == [(conversation, "waiting")]


def test_csat_from_the_widget_is_stored_and_shown(client: TestClient) -> None:
    ann = staff(client, "ann")
    with client.websocket_connect("/ws/chat") as customer:
        conversation = hello(customer)["conversation_id"]
        say(customer, "where is my parcel", "c1")
        customer.send_json({"type": "csat", "rating": 4, "comment": "quick, thanks"})
        assert next_frame(customer, "csat_ok")["rating"] == 4
        customer.send_json({"type": "csat", "rating": 9, "comment": ""})
        assert next_frame(customer, "error")["code"] == "invalid_field"
    assert count(client, CsatRating) == 1
    shown = client.get(f"/api/conversations/{conversation}", headers=ann.headers()).json()["conversation"]
    assert shown["csat"] == 4 and shown["csat_history"][0]["comment"] == "quick, thanks"
    averages = client.get("/api/csat", headers=ann.headers()).json()
    assert averages["overall"] == {"key": "all", "count": 1, "average": 4.0}
    assert averages["per_intent"] == [{"key": "track_order", "count": 1, "average": 4.0}]
    assert averages["per_week"][0]["count"] == 1


def test_admin_manages_accounts(client: TestClient, tmp_path: Path) -> None:
    admin = staff(client, "root", "admin")
    created = client.post(
        "/api/users",
        json={"username": "zoe", "password": "a long enough password", "role": "operator"},
        headers=admin.headers(),
    )
    assert created.status_code == 201 and created.json()["role"] == "operator"
    duplicate = client.post(
        "/api/users",
        json={"username": "zoe", "password": "a long enough password", "role": "agent"},
        headers=admin.headers(),
    )
    assert duplicate.status_code == 409
    weak = client.post(
        "/api/users", json={"username": "max", "password": "short", "role": "agent"}, headers=admin.headers()
    )
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    last_admin = client.patch("/api/users/root", json={"role": "agent"}, headers=admin.headers())
    assert last_admin.status_code == 409 and last_admin.json()["code"] == "last_admin"
    users = client.get("/api/users", headers=admin.headers()).json()["users"]
    assert [(u["username"], u["role"]) for u in users] == [("root", "admin"), ("zoe", "operator")]
    assert "password" not in str(users)


def test_only_operators_may_override_someone_elses_chat(client: TestClient) -> None:
    ann, ben, olga = staff(client, "ann"), staff(client, "ben"), staff(client, "olga", "operator")
    with client.websocket_connect("/ws/chat") as customer:
        conversation = hello(customer)["conversation_id"]
    base = f"/api/conversations/{conversation}"
    client.post(f"{base}/take-over", headers=ann.headers())
    plain = client.post(f"{base}/hand-back", json={}, headers=ben.headers())
    forced_by_agent = client.post(f"{base}/hand-back", json={"override": True}, headers=ben.headers())
    assert (plain.status_code, plain.json()["code"]) == (409, "not_yours")
    assert forced_by_agent.status_code == 403
    forced = client.post(f"{base}/hand-back", json={"override": True}, headers=olga.headers())
    assert forced.status_code == 200 and forced.json()["status"] == "bot"


def test_repeated_failed_logins_are_throttled(client: TestClient) -> None:
    create_staff(client, "ann")
    create_staff(client, "ben")
    guess = {"username": "ann", "password": "guess guess"}
    for _ in range(3):
        assert client.post("/api/auth/login", json=guess).status_code == 401
    right = client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    assert right.status_code == 429 and right.json()["code"] == "too_many_attempts"
    assert SESSION_COOKIE not in right.cookies
    assert login(client, "ben").username == "ben"
