"""The transcript view's citation review in a real headless Chromium: correct a reply's article."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import CitationReview
from bot.staff import accounts
from tests.staff.support import PASSWORD, cheap_passwords, new_conversation, seed_turn  # noqa: F401
from tests.web.conftest import new_page
from tests.web.test_console_browser import db, log_in  # noqa: F401
from tests.web.test_console_browser import pytestmark as browser_marks

pytestmark = browser_marks


def test_an_agent_corrects_the_article_a_reply_cited(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    _, reply = seed_turn(db, new_conversation(db), "i want to send back a jacket", "return_item", 0.97)
    page = new_page(chromium, contexts)
    log_in(page, live_server, "ann")
    page.locator("#conversation-list tbody tr").first.click()

    review = page.locator(f'li.turn.bot[data-message-id="{reply.id}"] .citation-review')
    expect(review.locator(".citation-state")).to_have_text("Citation not reviewed.")
    review.locator("select.citation-select").select_option("return-policy")
    review.locator("button.citation-save").click()

    expect(review.locator(".citation-state")).to_contain_text("Corrected to return-policy by ann")
    with db() as session:
        rows = session.scalars(select(CitationReview)).all()
    assert [(row.message_id, row.article_id, row.created_by) for row in rows] == [
        (reply.id, "return-policy", "ann")
    ]
    assert page.errors == []  # type: ignore[attr-defined]
