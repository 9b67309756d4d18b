"""Screenshots of the live desk and the widget for the README: desktop (1440x900) and a phone
(390x844), against the real server on a throw-away SQLite database, with real chats.

    .venv/bin/python docs/screenshots/capture.py

Writes desk-desktop.png, desk-phone.png, widget-desktop.png and widget-phone.png next to this file.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.config import PROJECT_ROOT, Settings  # noqa: E402
from bot.db.session import create_db_engine, create_session_factory  # noqa: E402
from bot.services import load_models  # noqa: E402
from bot.staff import accounts, canned  # noqa: E402
from tests.live_server import serve_in_thread  # noqa: E402
from tests.staff.support import PASSWORD, cheap_hashing  # noqa: E402

OUT = Path(__file__).resolve().parent
DESKTOP = ViewportSize(width=1440, height=900)
PHONE = ViewportSize(width=390, height=844)


def customer(browser: Browser, url: str, viewport: ViewportSize, *texts: str) -> Page:
    context = browser.new_context(viewport=viewport, device_scale_factor=2 if viewport == PHONE else 1)
    page = context.new_page()
    page.goto(url + "/")
    page.locator("button.launcher").click()
    page.wait_for_function("() => window.SupportChat.state().connected")
    widget = page.locator("#support-chat-widget")
    for n, text in enumerate(texts):
        page.evaluate("(t) => window.SupportChat.send(t)", text)
        expect(widget.locator("div.msg.bot")).to_have_count(n + 1, timeout=20_000)
    return page


def staff(browser: Browser, url: str, viewport: ViewportSize) -> Page:
    context = browser.new_context(viewport=viewport, device_scale_factor=2 if viewport == PHONE else 1)
    page = context.new_page()
    page.goto(url + "/console")
    page.fill("#username", "ann")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#whoami")).to_contain_text("ann")
    return page


def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            database_url=f"sqlite:///{state}/bot.sqlite3",
            data_dir=PROJECT_ROOT / "data",
            state_dir=Path(state),
            adapter_dir=PROJECT_ROOT / "adapters",
            device="cpu",
        )
        models = load_models(settings)
        with serve_in_thread(create_app(settings, models), settings) as url, sync_playwright() as playwright:
            factory = create_session_factory(create_db_engine(settings.database_url))
            with cheap_hashing():
                accounts.create_user(factory, "ann", PASSWORD, "agent", "Ann")
            shipping = "Shipping is 4.95 EUR, and free on orders over 50 EUR."
            canned.save_reply(factory, "shipping", shipping, "olga")
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            alice = customer(
                browser, url, DESKTOP, "how much does shipping cost", "i want to talk to a real human please"
            )
            bob = customer(
                browser, url, PHONE, "where is my parcel, it has not arrived", "can I speak to a person"
            )
            desk = staff(browser, url, DESKTOP)
            desk.click("#tabs a[data-tab=live]")
            alice_id = alice.evaluate("() => window.SupportChat.state().conversationId")
            desk.locator(f'#live-list li[data-id="{alice_id}"] a').click()
            desk.click("#assign-me")
            desk.click("#take-over")
            desk.fill("#agent-text", "Hi, this is Ann from Northwind. Happy to help!")
            desk.press("#agent-text", "Enter")
            desk.fill("#note-text", "Asked about shipping before the hand-off.")
            desk.click("#note-form button[type=submit]")
            alice.evaluate("() => window.SupportChat.send('Thanks! Can I still change my delivery address?')")
            expect(desk.locator("#transcript li.bubble.user")).to_have_count(3)
            desk.locator("#transcript li.bubble.user").nth(1).click()
            desk.focus("#agent-text")
            desk.keyboard.type("/ship")
            expect(desk.locator("#canned-list")).to_be_visible()
            desk.wait_for_timeout(300)
            desk.screenshot(path=str(OUT / "desk-desktop.png"))
            expect(alice.locator("#support-chat-widget .system")).to_have_count(1)
            alice.screenshot(path=str(OUT / "widget-desktop.png"))
            bob.screenshot(path=str(OUT / "widget-phone.png"))
            phone_desk = staff(browser, url, PHONE)
            phone_desk.click("#tabs a[data-tab=live]")
            bob_id = bob.evaluate("() => window.SupportChat.state().conversationId")
            phone_desk.locator(f'#live-list li[data-id="{bob_id}"] a').click()
            expect(phone_desk.locator("#transcript li.bubble")).to_have_count(4)
            phone_desk.screenshot(path=str(OUT / "desk-phone.png"), full_page=True)
            browser.close()
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
