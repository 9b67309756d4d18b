"""Responses and articles in the database: the snapshot the chat serves, edits with history.

Every change runs in one transaction that first raises the content revision
(``content_state``), then writes the rows and one ``content_changes`` row per item with the
content after the change, the editor and the time. Raising the revision first takes the write
lock (PostgreSQL's row lock, SQLite's database lock), so concurrent edits queue up and each
one reads what the one before it wrote; a process that sees a new revision knows its snapshot
is out of date. An edit may name the version it started from and is refused when someone else
changed the item since.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.definitions import (
    ACTIONS_FILE,
    ActionDefinition,
    definition_data,
    definition_problems,
    read_actions_file,
)
from bot.chat.responses import IntentResponse, load_responses
from bot.content.files import ContentSet, read_content_dir
from bot.content.rules import article_problems, reference_problems, response_problems
from bot.db.models import ActionRow, ArticleRow, ContentChange, ContentState, ResponseRow, utcnow
from bot.errors import Conflict, InvalidInput, NotFound
from bot.retrieval.articles import Article

RESPONSE, ARTICLE, ACTION = "response", "article", "action"
CREATE, UPDATE, DELETE = "create", "update", "delete"
SEED_ACTOR = "seed"
STATE_ID = 1
ContentRow = ResponseRow | ArticleRow | ActionRow
ContentItem = IntentResponse | Article | ActionDefinition
_ROW_TYPES: dict[str, type[ContentRow]] = {RESPONSE: ResponseRow, ARTICLE: ArticleRow, ACTION: ActionRow}


@dataclass(frozen=True)
class ContentSnapshot:
    """The content at ``revision``; 0 before the content was ever seeded or imported."""

    revision: int
    content: ContentSet


@dataclass
class ImportSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


def content_revision(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return _revision(session)


def _revision(session: Session) -> int:
    return session.scalar(select(ContentState.revision).where(ContentState.id == STATE_ID)) or 0


def load_snapshot(factory: sessionmaker[Session]) -> ContentSnapshot:
    with factory() as session:
        # The revision is read before the rows: the rows are then at least that new, so a
        # change made in between is seen again at the next poll rather than missed.
        revision = _revision(session)
        responses = {row.intent: response_of(row) for row in session.scalars(select(ResponseRow))}
        articles = {row.id: article_of(row) for row in session.scalars(select(ArticleRow))}
        actions = {row.name: action_of(row) for row in session.scalars(select(ActionRow))}
    return ContentSnapshot(
        revision,
        ContentSet(
            dict(sorted(responses.items())), dict(sorted(articles.items())), dict(sorted(actions.items()))
        ),
    )


def response_of(row: ResponseRow) -> IntentResponse:
    return IntentResponse(
        row.title, list(row.replies), row.related_articles, row.handoff, tuple(row.articles), row.action
    )


def action_of(row: ActionRow) -> ActionDefinition:
    return ActionDefinition.model_validate(row.definition)


def article_of(row: ArticleRow) -> Article:
    return Article(row.id, row.title, row.body)


def response_data(response: IntentResponse) -> dict[str, Any]:
    return {
        "title": response.title,
        "replies": list(response.replies),
        "handoff": response.handoff,
        "related_articles": response.related_articles,
        "articles": list(response.articles),
        "action": response.action,
    }


def article_data(article: Article) -> dict[str, Any]:
    return {"title": article.title, "body": article.body}


def seed_if_empty(factory: sessionmaker[Session], folder: Path) -> bool:
    """Fill the content from ``folder`` (``data/``) the first time; False when it already was.

    "The first time" is while ``content_state`` has no row: content that operators emptied on
    purpose stays empty. Two processes starting together both try; the database's primary key
    lets one of them through.
    """
    with factory() as session:
        if session.get(ContentState, STATE_ID) is not None:
            return False
    # A dataset folder without articles seeds none, as the index of such a folder always had.
    content = read_content_dir(folder, knowledge_required=False)
    try:
        import_content(factory, content, SEED_ACTOR, first=True)
    except IntegrityError:
        return False
    return True


def import_content(
    factory: sessionmaker[Session],
    content: ContentSet,
    actor: str,
    dry_run: bool = False,
    first: bool = False,
) -> ImportSummary:
    """Make the stored content equal ``content`` (already checked) in one transaction.

    Items that differ get a new version and a history row; items missing from ``content`` are
    deleted. ``first`` creates the revision row and fails (IntegrityError) if it exists.
    """
    with factory() as session:
        if first:
            session.add(ContentState(id=STATE_ID, revision=0))
            session.flush()
        revision = _bump(session)
        summary = ImportSummary()
        _sync_items(session, summary, RESPONSE, content.responses, revision, actor)
        _sync_items(session, summary, ARTICLE, content.articles, revision, actor)
        _sync_items(session, summary, ACTION, content.actions, revision, actor)
        if dry_run or not (summary.changed or first):
            session.rollback()
        else:
            session.commit()
        return summary


def _sync_items(
    session: Session,
    summary: ImportSummary,
    kind: str,
    wanted: dict[str, IntentResponse] | dict[str, Article] | dict[str, ActionDefinition],
    revision: int,
    actor: str,
) -> None:
    rows: list[ContentRow] = []
    rows += session.scalars(select(_ROW_TYPES[kind]))
    stored = {_key(row): row for row in rows}
    for key, item in wanted.items():
        row = stored.get(key)
        if row is not None and _data(row) == _item_data(item):
            summary.unchanged += 1
            continue
        (summary.created if row is None else summary.updated).append(f"{kind} {key}")
        _write(session, kind, key, item, row, revision, actor)
    for key, row in stored.items():
        if key not in wanted:
            summary.deleted.append(f"{kind} {key}")
            _remove(session, kind, row, revision, actor)


def check_response(factory: sessionmaker[Session], intent: str, response: IntentResponse) -> None:
    """Refuse (InvalidInput) a response that ``save_response`` would refuse for its content."""
    _check_fields(intent, response)
    with factory() as session:
        _check_references(session, intent, response)


def _check_fields(intent: str, response: IntentResponse) -> None:
    problems = response_problems(intent, response)
    if problems:
        raise InvalidInput("invalid_response", "; ".join(problems))


def _check_references(session: Session, intent: str, response: IntentResponse) -> None:
    problems = reference_problems({intent: response}, set(session.scalars(select(ArticleRow.id))))
    if problems:
        raise InvalidInput("unknown_article", "; ".join(problems))
    if response.action is not None and session.get(ActionRow, response.action) is None:
        raise InvalidInput(
            "unknown_action", f"intent {intent!r}: names the action {response.action!r}, which does not exist"
        )


def save_response(
    factory: sessionmaker[Session],
    intent: str,
    response: IntentResponse,
    actor: str,
    expected_version: int | None = None,
) -> ResponseRow:
    """Create or change an intent's response; ``expected_version`` 0 means "create only"."""
    _check_fields(intent, response)
    with factory() as session:
        revision = _bump(session)
        _check_references(session, intent, response)
        row = session.get(ResponseRow, intent)
        _check_version(RESPONSE, intent, row, expected_version)
        saved = _write(session, RESPONSE, intent, response, row, revision, actor)
        session.commit()
        assert isinstance(saved, ResponseRow)
        return saved


def save_article(
    factory: sessionmaker[Session],
    article: Article,
    actor: str,
    expected_version: int | None = None,
) -> ArticleRow:
    problems = article_problems(article)
    if problems:
        raise InvalidInput("invalid_article", "; ".join(problems))
    with factory() as session:
        revision = _bump(session)
        row = session.get(ArticleRow, article.id)
        _check_version(ARTICLE, article.id, row, expected_version)
        saved = _write(session, ARTICLE, article.id, article, row, revision, actor)
        session.commit()
        assert isinstance(saved, ArticleRow)
        return saved


def delete_response(
    factory: sessionmaker[Session], intent: str, actor: str, expected_version: int | None = None
) -> None:
    with factory() as session:
        revision = _bump(session)
        row = session.get(ResponseRow, intent)
        if row is None:
            raise NotFound("unknown_response", f"intent {intent!r} has no response")
        _check_version(RESPONSE, intent, row, expected_version)
        _remove(session, RESPONSE, row, revision, actor)
        session.commit()


def delete_article(
    factory: sessionmaker[Session], article_id: str, actor: str, expected_version: int | None = None
) -> None:
    with factory() as session:
        revision = _bump(session)
        row = session.get(ArticleRow, article_id)
        if row is None:
            raise NotFound("unknown_article", f"no article {article_id!r}")
        _check_version(ARTICLE, article_id, row, expected_version)
        users = sorted(r.intent for r in session.scalars(select(ResponseRow)) if article_id in r.articles)
        if users:
            raise Conflict(
                "article_in_use",
                f"article {article_id!r} is listed by the responses of {', '.join(users)}: "
                "remove it there first",
            )
        _remove(session, ARTICLE, row, revision, actor)
        session.commit()


def check_action(name: str, data: Any) -> ActionDefinition:
    """The definition in ``data``, or InvalidInput listing every problem."""
    problems = definition_problems(name, data)
    if problems:
        raise InvalidInput("invalid_action", "; ".join(problems))
    return ActionDefinition.model_validate(data)


def save_action(
    factory: sessionmaker[Session],
    name: str,
    data: Any,
    actor: str,
    expected_version: int | None = None,
) -> ActionRow:
    """Create or change an action's definition; ``expected_version`` 0 means "create only"."""
    action = check_action(name, data)
    with factory() as session:
        revision = _bump(session)
        row = session.get(ActionRow, name)
        _check_version(ACTION, name, row, expected_version)
        saved = _write(session, ACTION, name, action, row, revision, actor)
        session.commit()
        assert isinstance(saved, ActionRow)
        return saved


def delete_action(
    factory: sessionmaker[Session], name: str, actor: str, expected_version: int | None = None
) -> None:
    with factory() as session:
        revision = _bump(session)
        row = session.get(ActionRow, name)
        if row is None:
            raise NotFound("unknown_action", f"no action {name!r}")
        _check_version(ACTION, name, row, expected_version)
        users = sorted(session.scalars(select(ResponseRow.intent).where(ResponseRow.action == name)))
        if users:
            raise Conflict(
                "action_in_use",
                f"action {name!r} is run by the responses of {', '.join(users)}: remove it there first",
            )
        _remove(session, ACTION, row, revision, actor)
        session.commit()


def get_action(factory: sessionmaker[Session], name: str) -> ActionRow:
    with factory() as session:
        row = session.get(ActionRow, name)
    if row is None:
        raise NotFound("unknown_action", f"no action {name!r}")
    return row


def all_actions(factory: sessionmaker[Session]) -> list[ActionRow]:
    with factory() as session:
        return list(session.scalars(select(ActionRow).order_by(ActionRow.name)))


def seed_actions_if_new(factory: sessionmaker[Session], folder: Path) -> bool:
    """Bring the shipped actions into content that was seeded before actions existed: once,
    while no action was ever stored, the actions of ``folder/actions.yml`` are added and the
    responses of ``folder/responses.yml`` that name one get it (where they name none yet)."""
    actions, problems = read_actions_file(Path(folder) / ACTIONS_FILE)
    if problems:
        raise InvalidInput("invalid_action", "; ".join(problems))
    if not actions:
        return False
    shipped = load_responses(Path(folder) / "responses.yml").responses
    with factory() as session:
        ever = select(func.count()).select_from(ContentChange).where(ContentChange.kind == ACTION)
        if session.scalar(ever):
            return False
        revision = _bump(session)
        for name, action in actions.items():
            _write(session, ACTION, name, action, None, revision, SEED_ACTOR)
        for row in session.scalars(select(ResponseRow).where(ResponseRow.action.is_(None))):
            wanted = shipped.get(row.intent)
            if wanted is not None and wanted.action in actions:
                response = replace(response_of(row), action=wanted.action)
                _write(session, RESPONSE, row.intent, response, row, revision, SEED_ACTOR)
        session.commit()
    return True


def get_response(factory: sessionmaker[Session], intent: str) -> ResponseRow:
    with factory() as session:
        row = session.get(ResponseRow, intent)
    if row is None:
        raise NotFound("unknown_response", f"intent {intent!r} has no response")
    return row


def get_article(factory: sessionmaker[Session], article_id: str) -> ArticleRow:
    with factory() as session:
        row = session.get(ArticleRow, article_id)
    if row is None:
        raise NotFound("unknown_article", f"no article {article_id!r}")
    return row


def all_responses(factory: sessionmaker[Session]) -> list[ResponseRow]:
    with factory() as session:
        return list(session.scalars(select(ResponseRow).order_by(ResponseRow.intent)))


def all_articles(factory: sessionmaker[Session]) -> list[ArticleRow]:
    with factory() as session:
        return list(session.scalars(select(ArticleRow).order_by(ArticleRow.id)))


def history(factory: sessionmaker[Session], kind: str, key: str) -> list[ContentChange]:
    """Every change of one item, newest first."""
    with factory() as session:
        query = (
            select(ContentChange)
            .where(ContentChange.kind == kind, ContentChange.key == key)
            .order_by(ContentChange.id.desc())
        )
        return list(session.scalars(query))


def _bump(session: Session) -> int:
    """Raise the revision as the transaction's first write (see the module docstring)."""
    raised = session.execute(
        update(ContentState)
        .where(ContentState.id == STATE_ID)
        .values(revision=ContentState.revision + 1, updated_at=utcnow())
    )
    if raised.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ContentState(id=STATE_ID, revision=1))
        session.flush()
        return 1
    return _revision(session)


def _check_version(kind: str, key: str, row: ContentRow | None, expected: int | None) -> None:
    if expected is None:
        return
    current = row.version if row is not None else 0
    if current != expected:
        who = f" by {row.updated_by} at {row.updated_at:%Y-%m-%d %H:%M} UTC" if row is not None else ""
        raise Conflict(
            "stale_version",
            f"the {kind} {key!r} was changed{who} (version {current}, you edited {expected}): "
            "reload it and make your change again",
        )


def _write(
    session: Session,
    kind: str,
    key: str,
    item: ContentItem,
    row: ContentRow | None,
    revision: int,
    actor: str,
) -> ContentRow:
    data = _item_data(item)
    action = UPDATE
    if row is None:
        action = CREATE
        row = _new_row(kind, key)
        # An item deleted and created again goes on counting, so its history reads in order.
        row.version = _last_version(session, kind, key)
        session.add(row)
    for name, value in data.items():
        setattr(row, name, value)
    row.version += 1
    row.updated_by = actor
    row.updated_at = utcnow()
    session.add(
        ContentChange(
            kind=kind,
            key=key,
            version=row.version,
            action=action,
            data=data,
            actor=actor,
            revision=revision,
            created_at=row.updated_at,
        )
    )
    return row


def _remove(session: Session, kind: str, row: ContentRow, revision: int, actor: str) -> None:
    session.add(
        ContentChange(
            kind=kind,
            key=_key(row),
            version=row.version + 1,
            action=DELETE,
            data=None,
            actor=actor,
            revision=revision,
            created_at=utcnow(),
        )
    )
    session.delete(row)


def _last_version(session: Session, kind: str, key: str) -> int:
    query = select(func.max(ContentChange.version)).where(
        ContentChange.kind == kind, ContentChange.key == key
    )
    return session.scalar(query) or 0


def _new_row(kind: str, key: str) -> ContentRow:
    if kind == RESPONSE:
        return ResponseRow(intent=key)
    if kind == ACTION:
        return ActionRow(name=key)
    return ArticleRow(id=key)


def _key(row: ContentRow) -> str:
    if isinstance(row, ResponseRow):
        return row.intent
    return row.name if isinstance(row, ActionRow) else row.id


def _data(row: ContentRow) -> dict[str, Any]:
    if isinstance(row, ResponseRow):
        return response_data(response_of(row))
    if isinstance(row, ActionRow):
        return {"definition": row.definition}
    return article_data(article_of(row))


def _item_data(item: ContentItem) -> dict[str, Any]:
    if isinstance(item, IntentResponse):
        return response_data(item)
    if isinstance(item, ActionDefinition):
        return {"definition": definition_data(item)}
    return article_data(item)
