"""The Analytics and Discover tabs in a real headless Chromium against the real server."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import IntentProposal, Label, Message
from bot.staff import accounts
from tests.insights.support import seed as seed_conversations
from tests.insights.test_clusters import GIFT_WRAP, OPENING_HOURS
from tests.insights.test_clusters import seed as seed_unserved_turns
from tests.staff.support import PASSWORD, cheap_passwords  # noqa: F401
from tests.web.conftest import new_page
from tests.web.test_console_browser import db, log_in  # noqa: F401
from tests.web.test_console_browser import pytestmark as browser_marks

pytestmark = browser_marks


def console_errors(page: Page) -> list[str]:
    """Console errors (a CSP violation by the plotting library would show here), collected from now."""
    errors: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", keep)
    return errors


def figure(page: Page, key: str) -> Any:
    return page.locator(f'#analytics-cards .card[data-figure="{key}"]')


def test_the_analytics_tab_shows_the_figures_plots_them_and_filters_by_adapter(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    seed_conversations(db)
    with db() as session, session.begin():
        # Two of the seeded replies called the order lookup: one found the order, one timed out.
        replies = session.scalars(select(Message).where(Message.role == "bot").order_by(Message.id)).all()
        for reply, outcome, milliseconds in ((replies[0], "ok", 40), (replies[1], "failed", 3000)):
            reply.action_name, reply.action_outcome, reply.action_ms = "order_status", outcome, milliseconds
    page = new_page(chromium, contexts)
    errors = console_errors(page)
    log_in(page, live_server, "ann")
    page.click('#tabs a[data-tab="analytics"]')
    page.fill("#analytics-filters input[name=from]", "2026-03-02")
    page.fill("#analytics-filters input[name=to]", "2026-03-10")
    page.click("#analytics-filters button[type=submit]")

    # Days later every conversation is decided: A, C and D contained, B and E handed off.
    expect(figure(page, "conversations").locator(".card-value")).to_have_text("5")
    expect(figure(page, "containment").locator(".card-value")).to_have_text("60.0 %")
    expect(figure(page, "fallback").locator(".card-value")).to_have_text("25.0 %")
    expect(figure(page, "latency")).to_contain_text("200 ms")
    expect(figure(page, "latency")).to_contain_text("p95 500 ms")
    expect(figure(page, "csat").locator(".card-value")).to_have_text("3.67 / 5")
    expect(page.locator("#analytics-intents tbody tr").first).to_have_attribute("data-intent", "out_of_scope")
    expect(page.locator('#analytics-csat tr[data-rating="4"] td').nth(1)).to_have_text("1")
    lookups = page.locator('#analytics-actions tr[data-action="order_status"] td')
    expect(lookups).to_have_text(["order_status", "2", "1 (50.0 %)", "failed 1, ok 1", "40", "3000"])
    # Four plots, drawn on canvases.
    expect(page.locator(".charts .uplot canvas")).to_have_count(4)
    csv_link = page.locator("#analytics-csv")
    expect(csv_link).to_have_attribute(
        "href", "/api/analytics/timeseries?from=2026-03-02&to=2026-03-10&interval=day&format=csv"
    )
    download = page.request.get(live_server + str(csv_link.get_attribute("href")))
    assert download.ok and download.headers["content-type"].startswith("text/csv")
    assert download.text().splitlines()[1].startswith("2026-03-02,2,")

    page.locator('#analytics-adapters tr[data-adapter="intents/v1"] button.show-adapter').click()
    expect(page.locator("#analytics-filters select[name=adapter]")).to_have_value("intents/v1")
    expect(figure(page, "conversations").locator(".card-value")).to_have_text("2")
    expect(figure(page, "latency")).to_contain_text("p95 300 ms")
    page.select_option("#analytics-filters select[name=interval]", "week")
    page.click("#analytics-filters button[type=submit]")
    expect(page.locator(".charts .uplot canvas")).to_have_count(4)
    assert page.errors == []  # type: ignore[attr-defined]
    assert errors == []


def test_an_operator_proposes_a_discovered_cluster_as_a_new_intent(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "olga", PASSWORD, "operator", "Olga")
    ids = seed_unserved_turns(db)
    page = new_page(chromium, contexts)
    errors = console_errors(page)
    log_in(page, live_server, "olga")
    page.click('#tabs a[data-tab="clusters"]')
    expect(page.locator("#cluster-summary")).to_have_text(
        "11 unserved turns not labelled yet; 10 of them in 3 clusters."
    )
    hours = page.locator(".cluster", has=page.locator(f'li[data-message-id="{ids[OPENING_HOURS[0]]}"]'))
    expect(hours.locator(".cluster-turns li")).to_have_count(4)
    expect(hours.locator(".cluster-known")).to_have_count(0)
    payments = page.locator(".cluster", has_text="These look like payment_methods: label them.")
    expect(payments).to_have_count(1)
    # Untick the holiday question, name the intent, propose.
    holidays = hours.locator(f'li[data-message-id="{ids[OPENING_HOURS[3]]}"] input[type=checkbox]')
    holidays.uncheck()
    hours.locator("input[name=intent-name]").fill("opening_hours")
    hours.locator("button.propose").click()
    expect(hours.locator(".cluster-status")).to_have_text("Proposed opening_hours (pending) with 3 examples.")
    with db() as session:
        labelled = set(session.scalars(select(Label.message_id).where(Label.intent == "opening_hours")))
        assert labelled == {ids[text] for text in OPENING_HOURS[:3]}
        assert (
            session.scalar(select(IntentProposal.status).where(IntentProposal.name == "opening_hours"))
            == "pending"
        )
    # The other clusters stay as they were.
    wrap = page.locator(".cluster", has=page.locator(f'li[data-message-id="{ids[GIFT_WRAP[0]]}"]'))
    expect(wrap.locator(".turn-text").first).to_have_text(GIFT_WRAP[0])
    assert page.errors == []  # type: ignore[attr-defined]
    assert errors == []
