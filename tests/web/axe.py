"""axe-core (vendored in tests/web/vendor, for the tests only) run inside a page under test.

The script is evaluated through the DevTools protocol, which the pages' strict
Content-Security-Policy does not govern, so the pages are checked exactly as they are served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
BLOCKING = ("serious", "critical")


def violations(page: Page) -> list[dict[str, Any]]:
    """The page's serious and critical accessibility violations (axe-core, every rule it runs by
    default: WCAG 2.x A and AA and best practices), each with the elements it found."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ['violations'] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => JSON.stringify(n.target) + ' ' + n.failureSummary),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in BLOCKING]
