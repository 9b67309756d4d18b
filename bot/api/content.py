"""Replies and knowledge-base articles for staff, under ``/api/content``.

Every staff role reads; operators edit. An edit is served by this process before the response
returns and by every other process within ``BOT_CONTENT_POLL_SECONDS``. A write may send the
``version`` it started from: if someone changed the item since, it is refused (409) instead
of overwriting their change.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request, status
from pydantic import AfterValidator, BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import CurrentStaff, OperatorStaff
from bot.chat.responses import IntentResponse
from bot.content import rules, store
from bot.db.models import ArticleRow, ContentChange, ResponseRow
from bot.retrieval.articles import Article
from bot.staff import labels

router = APIRouter(prefix="/api/content")

IntentName = Annotated[str, Path(min_length=1, max_length=100)]
ArticleId = Annotated[str, Path(min_length=1, max_length=rules.MAX_ARTICLE_ID)]
ExpectedVersion = Annotated[
    int | None, Query(ge=0, le=2**31 - 1, description="The version the change started from.")
]


class ResponseBody(BaseModel):
    title: str = Field(max_length=rules.MAX_TITLE_CHARS, description="The customer's button text.")
    replies: list[str] = Field(
        min_length=1,
        max_length=rules.MAX_REPLIES,
        description="Alternative replies; one is picked at random.",
    )
    handoff: bool = Field(default=False, description="Answering puts the chat in the queue for a person.")
    related_articles: bool = Field(default=True, description="False never cites an article (small talk).")
    articles: list[str] = Field(
        default_factory=list, max_length=100, description="Ids of the articles that belong to the intent."
    )
    action: str | None = Field(
        default=None,
        max_length=63,
        description=(
            "A business action that answering runs (e.g. order_status); the replies become its fallback."
        ),
    )
    version: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="The version edited (0: create only); omit to overwrite.",
    )

    def response(self) -> IntentResponse:
        replies = [reply.strip() for reply in self.replies]
        return IntentResponse(
            self.title.strip(),
            replies,
            self.related_articles,
            self.handoff,
            tuple(self.articles),
            self.action or None,
        )


class ArticleBody(BaseModel):
    title: str = Field(max_length=rules.MAX_ARTICLE_TITLE_CHARS)
    body: str = Field(
        max_length=rules.MAX_ARTICLE_BODY_CHARS, description="Markdown; '## ' starts a section."
    )
    version: int | None = Field(default=None, ge=0, le=2**31 - 1, description="As for responses.")


UtcTime = Annotated[dt.datetime, AfterValidator(lambda t: t if t.tzinfo else t.replace(tzinfo=dt.UTC))]


class Edited(BaseModel):
    version: int
    updated_by: str
    updated_at: UtcTime


class ResponseView(Edited):
    intent: str
    title: str
    replies: list[str]
    handoff: bool
    related_articles: bool
    articles: list[str]
    action: str | None = None


class ArticleSummary(Edited):
    id: str
    title: str


class ArticleView(ArticleSummary):
    body: str


class ResponseList(BaseModel):
    responses: list[ResponseView]
    without_response: list[str] = Field(
        description="Intents the model knows or operators approved that have no response: "
        "they answer with the fallback (a knowledge-base article or the offer of a person)."
    )


class ChangeView(BaseModel):
    version: int
    action: str
    actor: str
    created_at: UtcTime
    revision: int
    data: dict[str, object] | None


class HistoryView(BaseModel):
    kind: str
    key: str
    changes: list[ChangeView]


def response_view(row: ResponseRow) -> ResponseView:
    return ResponseView(
        intent=row.intent,
        title=row.title,
        replies=list(row.replies),
        handoff=row.handoff,
        related_articles=row.related_articles,
        articles=list(row.articles),
        action=row.action,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def article_view(row: ArticleRow) -> ArticleView:
    return ArticleView(
        id=row.id,
        title=row.title,
        body=row.body,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def history_view(kind: str, key: str, changes: list[ContentChange]) -> HistoryView:
    return HistoryView(
        kind=kind,
        key=key,
        changes=[
            ChangeView(
                version=c.version,
                action=c.action,
                actor=c.actor,
                created_at=c.created_at,
                revision=c.revision,
                data=c.data,
            )
            for c in changes
        ],
    )


def intents_without_response(request: Request, answered: set[str]) -> list[str]:
    services = services_of(request)
    approved = {p.name for p in labels.list_proposals(services.session_factory, "approved")}
    known = set(services.slot.current.labels) - {labels.OUT_OF_SCOPE}
    return sorted((known | approved) - answered)


@router.get("/responses")
def list_responses(request: Request, staff: CurrentStaff) -> ResponseList:
    rows = store.all_responses(services_of(request).session_factory)
    missing = intents_without_response(request, {row.intent for row in rows})
    return ResponseList(responses=[response_view(row) for row in rows], without_response=missing)


@router.get("/responses/{intent}")
def show_response(intent: IntentName, request: Request, staff: CurrentStaff) -> ResponseView:
    return response_view(store.get_response(services_of(request).session_factory, intent))


@router.put("/responses/{intent}")
async def put_response(
    intent: IntentName, body: ResponseBody, request: Request, operator: OperatorStaff
) -> ResponseView:
    services = services_of(request)
    row = await to_thread.run_sync(
        store.save_response,
        services.session_factory,
        intent,
        body.response(),
        operator.username,
        body.version,
    )
    await services.content.refresh()
    return response_view(row)


@router.delete("/responses/{intent}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_response(
    intent: IntentName, request: Request, operator: OperatorStaff, version: ExpectedVersion = None
) -> None:
    services = services_of(request)
    await to_thread.run_sync(
        store.delete_response, services.session_factory, intent, operator.username, version
    )
    await services.content.refresh()


@router.get("/responses/{intent}/history")
def response_history(intent: IntentName, request: Request, staff: CurrentStaff) -> HistoryView:
    changes = store.history(services_of(request).session_factory, store.RESPONSE, intent)
    return history_view(store.RESPONSE, intent, changes)


@router.get("/articles")
def list_articles(request: Request, staff: CurrentStaff) -> list[ArticleSummary]:
    rows = store.all_articles(services_of(request).session_factory)
    return [
        ArticleSummary(
            id=row.id,
            title=row.title,
            version=row.version,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


@router.get("/articles/{article_id}")
def show_article(article_id: ArticleId, request: Request, staff: CurrentStaff) -> ArticleView:
    return article_view(store.get_article(services_of(request).session_factory, article_id))


@router.put("/articles/{article_id}")
async def put_article(
    article_id: ArticleId, body: ArticleBody, request: Request, operator: OperatorStaff
) -> ArticleView:
    services = services_of(request)
    article = Article(article_id, body.title.strip(), body.body.strip())
    row = await to_thread.run_sync(
        store.save_article, services.session_factory, article, operator.username, body.version
    )
    # Embeds the changed article (only that one) before answering, so the next question finds it.
    await services.content.refresh()
    return article_view(row)


@router.delete("/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_article(
    article_id: ArticleId, request: Request, operator: OperatorStaff, version: ExpectedVersion = None
) -> None:
    services = services_of(request)
    await to_thread.run_sync(
        store.delete_article, services.session_factory, article_id, operator.username, version
    )
    await services.content.refresh()


@router.get("/articles/{article_id}/history")
def article_history(article_id: ArticleId, request: Request, staff: CurrentStaff) -> HistoryView:
    changes = store.history(services_of(request).session_factory, store.ARTICLE, article_id)
    return history_view(store.ARTICLE, article_id, changes)
