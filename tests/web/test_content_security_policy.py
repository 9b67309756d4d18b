"""The demo page and the console work under their Content-Security-Policy in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_widget import open_widget, send

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def violations(page: Page) -> list[Any]:
    found: list[Any] = page.evaluate("() => window.__violations")
    return found


def test_widget_chats_on_the_demo_page_without_a_policy_violation(page: Page, live_server: str) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    open_widget(page, live_server)
    send(page, "where is my parcel, it has not arrived")
    expect(page.locator("div.msg.bot[data-seq='2'] .text")).to_be_visible()
    # The page's own inline <style> applies (allowed by its hash), so does the widget's sheet.
    assert page.eval_on_selector("p.help-note", "el => getComputedStyle(el).fontSize") == "15px"
    assert violations(page) == []


def test_an_injected_inline_script_is_blocked_on_the_demo_page(page: Page, live_server: str) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(live_server + "/")
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }"""
    )
    assert page.evaluate("() => window.__ran === undefined")
    assert any(v.startswith("script-src") for v in violations(page))


def test_console_login_page_loads_without_a_policy_violation(page: Page, live_server: str) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(live_server + "/console/login")
    expect(page.locator("input[type=password]")).to_be_visible()
    assert violations(page) == []
