"""What a valid response and a valid article look like; every way in (files, API) checks here.

Each check returns problems as one-line messages, so a caller can report all of them at once
and write nothing while there is any.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from bot.chat.responses import IntentResponse
from bot.retrieval.articles import Article
from bot.staff.labels import INTENT_NAME

ARTICLE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_ARTICLE_ID = 100
# The title is the customer's button: short enough for one line of the widget.
MAX_TITLE_CHARS = 30
MAX_REPLIES = 10
MAX_REPLY_CHARS = 2000
MAX_ARTICLE_TITLE_CHARS = 200
MAX_ARTICLE_BODY_CHARS = 100_000


def intent_name_problems(intent: str) -> list[str]:
    if INTENT_NAME.match(intent):
        return []
    return [f"intent {intent!r}: a name has 2-63 characters: a-z, 0-9 and '_', starting with a letter"]


def article_id_problems(article_id: str) -> list[str]:
    if len(article_id) <= MAX_ARTICLE_ID and ARTICLE_ID.match(article_id):
        return []
    return [
        f"article {article_id!r}: an id has at most {MAX_ARTICLE_ID} characters: "
        "a-z and 0-9 in words joined by single '-'"
    ]


def response_problems(intent: str, response: IntentResponse) -> list[str]:
    where = f"intent {intent!r}"
    problems = intent_name_problems(intent)
    title = response.title.strip()
    if not title or "\n" in title or len(title) > MAX_TITLE_CHARS:
        problems.append(f"{where}: the title needs 1-{MAX_TITLE_CHARS} characters on one line")
    if not 1 <= len(response.replies) <= MAX_REPLIES:
        problems.append(f"{where}: needs 1-{MAX_REPLIES} replies (one is picked at random)")
    for number, reply in enumerate(response.replies, start=1):
        if not reply.strip() or len(reply) > MAX_REPLY_CHARS:
            problems.append(f"{where}: reply {number} needs 1-{MAX_REPLY_CHARS} characters")
    if len(set(response.articles)) != len(response.articles):
        problems.append(f"{where}: an article is listed twice")
    return problems


def article_problems(article: Article) -> list[str]:
    where = f"article {article.id!r}"
    problems = article_id_problems(article.id)
    title = article.title.strip()
    if not title or "\n" in title or len(title) > MAX_ARTICLE_TITLE_CHARS:
        problems.append(f"{where}: the title needs 1-{MAX_ARTICLE_TITLE_CHARS} characters on one line")
    if not article.body.strip() or len(article.body) > MAX_ARTICLE_BODY_CHARS:
        problems.append(f"{where}: the body needs 1-{MAX_ARTICLE_BODY_CHARS} characters")
    return problems


def reference_problems(responses: Mapping[str, IntentResponse], article_ids: Collection[str]) -> list[str]:
    """Responses may only list articles that exist."""
    return [
        f"intent {intent!r}: lists the article {article_id!r}, which does not exist"
        for intent, response in responses.items()
        for article_id in response.articles
        if article_id not in article_ids
    ]
