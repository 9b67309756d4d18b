"""The learning loop from the console, in a real Chromium against the real server: an operator
approves a proposed intent, writes its reply, trains a round from the Learning tab, reads the
gate report and promotes; a customer whose chat was open all along gets the new reply.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from bot.app import create_app
from bot.config import Settings
from bot.db.session import create_db_engine, create_session_factory
from bot.learning.round_data import is_held_out
from bot.services import Models
from bot.staff import accounts, labels
from tests.learning.round_support import ROUND_TIMEOUT_S, short_round_settings
from tests.live_server import serve_in_thread
from tests.staff.support import PASSWORD, cheap_passwords, new_conversation, seed_turn  # noqa: F401
from tests.web.conftest import new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("cheap_passwords")]

NEW_INTENT = "gift_wrapping"
REPLY = "Yes! Tick 'gift wrap' at checkout and we wrap each item for 3 euros."
GIFT_WRAPPING = [
    "can you gift wrap my order?",
    "do you offer gift wrapping",
    "I'd like this wrapped as a present",
    "is gift wrap available for the sweater",
    "please wrap the parcel in gift paper",
    "how much does gift wrapping cost",
    "can I add wrapping paper and a ribbon",
    "wrap it as a birthday present please",
    "do you do present wrapping at checkout",
    "I want the items gift-wrapped separately",
]


def test_operator_trains_a_new_intent_from_the_console_and_an_open_chat_gets_its_reply(
    chromium: Browser, contexts: list[BrowserContext], settings: Settings, models: Models, tmp_path: Path
) -> None:
    round_settings = short_round_settings(settings, tmp_path)
    app = create_app(round_settings, models)
    with serve_in_thread(app, round_settings) as url:
        engine = create_db_engine(round_settings.database_url)
        factory = create_session_factory(engine)
        accounts.create_user(factory, "ann", PASSWORD, "agent", "Ann")
        accounts.create_user(factory, "olga", PASSWORD, "operator", "Olga")
        # Ten customers asked for gift wrapping; an agent labelled each turn with a new intent.
        known = set(models.classifier.labels)
        for text in GIFT_WRAPPING:
            turn, _ = seed_turn(factory, new_conversation(factory), text, "gift_card", 0.8)
            labels.add_staff_label(factory, turn.id, NEW_INTENT, known, "ann", propose=True)
        engine.dispose()

        customer = new_page(chromium, contexts)
        customer.goto(url + "/")
        customer.locator("button.launcher").click()
        customer.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")

        operator = new_page(chromium, contexts)
        operator.goto(url + "/console")
        operator.fill("#username", "olga")
        operator.fill("#password", PASSWORD)
        operator.click("#login-form button[type=submit]")
        expect(operator.locator("#whoami")).to_contain_text("olga")

        operator.click("#tabs a[data-tab=proposals]")
        proposal = operator.locator(f'#proposal-list tr[data-name="{NEW_INTENT}"]')
        proposal.locator("button.approve").click()
        approval = operator.locator(f'tr.approve-row[data-name="{NEW_INTENT}"]')
        approval.locator("textarea[name=reply]").fill(REPLY)
        approval.locator("button.approve-with-reply").click()
        expect(proposal.locator(".proposal-status")).to_have_text("approved")

        operator.click("#tabs a[data-tab=rounds]")
        operator.fill("#start-round input[name=epochs]", "2")
        operator.click("#start-round button[type=submit]")
        expect(operator.locator("#r-title")).to_contain_text("Round ")
        round_title = operator.locator("#r-title").text_content()
        operator.reload()  # the round lives on the server, not in the page
        expect(operator.locator("#r-title")).to_have_text(round_title or "")
        finished = operator.locator('#view-round[data-state="succeeded"]')
        expect(finished).to_be_visible(timeout=ROUND_TIMEOUT_S * 1000)

        expect(operator.locator("#g-verdict")).to_have_text("The gate passed.")
        expect(operator.locator(f'#g-new-intents tr[data-intent="{NEW_INTENT}"]')).to_be_visible()
        version = operator.locator("#r-candidate").text_content()
        operator.fill("#r-reason", "customers ask for gift wrapping")
        operator.click("#r-promote")
        # Promotion runs the gate once more, in the server: seconds on busy cores.
        expect(operator.locator("#r-decision")).to_contain_text(
            "promoted by olga", timeout=ROUND_TIMEOUT_S * 1000
        )
        deadline = time.monotonic() + 20
        while app.state.services.slot.current.version != version:
            assert time.monotonic() < deadline, "the server did not start serving the promoted candidate"
            time.sleep(0.1)

        asked = "do you offer gift wrapping"  # trained on: not in the held-out share
        assert not is_held_out(asked)
        customer.evaluate("(text) => window.SupportChat.send(text)", asked)
        expect(customer.locator("div.msg.bot .text").last).to_have_text(REPLY)
        assert operator.errors == [] and customer.errors == []  # type: ignore[attr-defined]
