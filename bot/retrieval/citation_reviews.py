"""Staff confirm or correct the article a bot reply cited, in the console's transcript view.

Each review is a question -> article pair in the shop's own words: the customer message the
reply answered, and the article that answers it. ``bot retriever train`` adds the newest review
of every reply to its training pairs (never to the gate's held-out fold, which stays on the
labelled set, so that the gate compares versions on the same questions).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.db.models import CitationReview, Message
from bot.errors import InvalidInput, NotFound
from bot.retrieval.questions import LabelledQuestion, Split
from bot.wire.console import CitationView
from bot.wire.enums import Role


def review_citation(
    factory: sessionmaker[Session],
    message_id: int,
    article_id: str,
    known_articles: Collection[str],
    username: str,
) -> CitationView:
    """Record that bot reply ``message_id`` should cite ``article_id`` (the newest review wins)."""
    if article_id not in known_articles:
        raise InvalidInput("unknown_article", f"there is no article {article_id!r}")
    with factory() as session, session.begin():
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound("unknown_message", f"no message with id {message_id}")
        if message.role != Role.BOT or message.reply_to_id is None:
            raise InvalidInput("not_a_bot_reply", "only a bot reply to a customer message cites articles")
        review = CitationReview(message_id=message_id, article_id=article_id, created_by=username)
        session.add(review)
        session.flush()
        sources = (message.payload or {}).get("sources") or []
        cited = sources[0].get("id") if sources else None
        return CitationView.of(review, cited)


def reviewed_pairs(factory: sessionmaker[Session], known_articles: Collection[str]) -> list[LabelledQuestion]:
    """The newest review of every reviewed reply, as (customer message, article) training pairs;
    reviews of articles that no longer exist are left out."""
    question = aliased(Message)
    newest = select(func.max(CitationReview.id)).group_by(CitationReview.message_id)
    with factory() as session:
        rows = session.execute(
            select(question.text, CitationReview.article_id)
            .join(Message, Message.id == CitationReview.message_id)
            .join(question, question.id == Message.reply_to_id)
            .where(CitationReview.id.in_(newest))
            .order_by(CitationReview.id)
        ).all()
    return [
        LabelledQuestion(text, (article_id,), Split.TUNE)
        for text, article_id in rows
        if article_id in known_articles and text.strip()
    ]
