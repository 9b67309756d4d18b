"""The console's Privacy tab in a real headless Chromium: find by e-mail, erase, see the marks."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import AdapterVersion
from bot.intents import registry
from bot.staff import accounts
from tests.privacy.support import rows_containing
from tests.staff.support import PASSWORD, cheap_passwords, new_conversation, seed_turn  # noqa: F401
from tests.web.conftest import new_page
from tests.web.test_console_browser import db, log_in  # noqa: F401
from tests.web.test_console_browser import pytestmark as browser_marks

pytestmark = browser_marks


def test_an_admin_erases_a_customers_conversation_and_sees_the_serving_adapter_marked(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "root", PASSWORD, "admin", "Root")
    mine = new_conversation(db)
    seed_turn(db, mine, "please mail <b>Kim.Lee@example.com</b> about my refund")
    seed_turn(db, new_conversation(db), "where is my parcel?")
    production = registry.production(db)
    assert production is not None
    with db() as session, session.begin():
        session.execute(
            update(AdapterVersion).where(AdapterVersion.id == production.id).values(erased_turns=3)
        )
    page = new_page(chromium, contexts)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live_server, "root")

    page.click('#tabs a[data-tab="privacy"]')
    expect(page.locator("#privacy-warning")).to_contain_text(f"{production.id} was trained on 3")
    expect(page.locator("#marked-versions li")).to_have_text([production.id])
    page.fill("#privacy-search input[name=value]", "kim.lee@EXAMPLE.com")
    page.click("#privacy-search button[type=submit]")
    rows = page.locator("#privacy-matches tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", mine)
    page.click("#erase-matches")

    expect(page.locator("#erase-result")).to_contain_text("Erased 1 conversations (2 messages)")
    expect(page.locator("#erasure-log tbody tr")).to_have_count(1)
    expect(page.locator("#erasure-log tbody tr td").nth(1)).to_have_text("staff:root")
    assert rows_containing(db, "Kim.Lee") == []
    assert rows_containing(db, "where is my parcel?")
    assert page.errors == []  # type: ignore[attr-defined]
