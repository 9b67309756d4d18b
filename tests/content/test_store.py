"""Stored content: seeded once from data/, edits with who/when history and a revision that every
process can poll, stale edits refused, imports that make the database equal a folder."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.responses import IntentResponse
from bot.config import PROJECT_ROOT
from bot.content import store
from bot.content.files import read_content_dir
from bot.db.models import ArticleRow, ContentChange, ResponseRow
from bot.errors import Conflict, InvalidInput
from bot.retrieval.articles import Article

DATA = PROJECT_ROOT / "data"
WRAPPING = IntentResponse("Gift wrapping", ["We wrap any order for 3.50 EUR."], articles=("gift-cards",))


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def rows(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_first_start_seeds_the_content_from_data_and_later_starts_do_not(
    db_factory: sessionmaker[Session],
) -> None:
    assert store.content_revision(db_factory) == 0
    assert store.seed_if_empty(db_factory, DATA)
    snapshot = store.load_snapshot(db_factory)
    assert snapshot.revision == 1
    assert snapshot.content == read_content_dir(DATA)
    assert rows(db_factory, ContentChange) == 32 + 36 + 1  # responses, articles, the action
    assert {c.actor for c in store.history(db_factory, store.RESPONSE, "track_order")} == {store.SEED_ACTOR}
    store.delete_response(db_factory, "thanks", "olga")
    assert not store.seed_if_empty(db_factory, DATA), "emptied content is not seeded again"
    assert "thanks" not in store.load_snapshot(db_factory).content.responses


def test_each_edit_is_recorded_with_editor_time_version_and_content(
    db_factory: sessionmaker[Session],
) -> None:
    store.seed_if_empty(db_factory, DATA)
    before = dt.datetime.now(dt.UTC)
    created = store.save_response(db_factory, "gift_wrapping", WRAPPING, "olga", expected_version=0)
    changed = IntentResponse("Gift wrapping", ["Gift wrap costs 3.50 EUR at checkout."], handoff=True)
    updated = store.save_response(db_factory, "gift_wrapping", changed, "pete", expected_version=1)
    store.delete_response(db_factory, "gift_wrapping", "olga", expected_version=2)
    store.save_response(db_factory, "gift_wrapping", WRAPPING, "pete")
    assert (created.version, updated.version) == (1, 2)
    history = store.history(db_factory, store.RESPONSE, "gift_wrapping")
    assert [(c.version, c.action, c.actor) for c in history] == [
        (4, "create", "pete"),
        (3, "delete", "olga"),
        (2, "update", "pete"),
        (1, "create", "olga"),
    ]
    assert history[2].data == store.response_data(changed)
    assert history[1].data is None
    assert all(aware(c.created_at) >= before for c in history)
    assert [c.revision for c in history] == [5, 4, 3, 2]
    assert store.content_revision(db_factory) == 5


def test_an_edit_of_a_version_someone_changed_since_is_refused_and_writes_nothing(
    db_factory: sessionmaker[Session],
) -> None:
    store.seed_if_empty(db_factory, DATA)
    store.save_response(db_factory, "gift_wrapping", WRAPPING, "olga", expected_version=0)
    with pytest.raises(Conflict, match="changed by olga") as refused:
        store.save_response(db_factory, "gift_wrapping", WRAPPING, "pete", expected_version=0)
    assert refused.value.code == "stale_version"
    assert store.content_revision(db_factory) == 2
    assert len(store.history(db_factory, store.RESPONSE, "gift_wrapping")) == 1


def test_invalid_edits_are_refused_with_what_is_wrong(db_factory: sessionmaker[Session]) -> None:
    store.seed_if_empty(db_factory, DATA)
    with pytest.raises(InvalidInput, match="needs 1-10 replies"):
        store.save_response(db_factory, "gift_wrapping", IntentResponse("Wrap", []), "olga")
    with pytest.raises(InvalidInput, match="'no-such' , which|'no-such', which does not exist"):
        store.save_response(
            db_factory, "gift_wrapping", IntentResponse("Wrap", ["x"], articles=("no-such",)), "o"
        )
    with pytest.raises(InvalidInput, match="the body needs"):
        store.save_article(db_factory, Article("new-article", "Title", "  "), "olga")
    assert store.content_revision(db_factory) == 1
    assert rows(db_factory, ContentChange) == 32 + 36 + 1  # responses, articles, the action


def test_an_article_that_a_response_lists_cannot_be_deleted(db_factory: sessionmaker[Session]) -> None:
    store.seed_if_empty(db_factory, DATA)
    store.save_response(db_factory, "gift_wrapping", WRAPPING, "olga")
    with pytest.raises(Conflict, match="listed by the responses of gift_card, gift_wrapping, "):
        store.delete_article(db_factory, "gift-cards", "olga")
    assert rows(db_factory, ArticleRow) == 36


def test_import_makes_the_database_equal_the_folder_in_one_revision(
    db_factory: sessionmaker[Session],
) -> None:
    store.seed_if_empty(db_factory, DATA)
    content = read_content_dir(DATA)
    content.responses["gift_wrapping"] = WRAPPING
    del content.responses["thanks"]
    content.articles["gift-cards"] = Article("gift-cards", "Gift Cards", "Rewritten.")
    dry = store.import_content(db_factory, content, "cli:ops", dry_run=True)
    assert store.content_revision(db_factory) == 1 and rows(db_factory, ResponseRow) == 32
    summary = store.import_content(db_factory, content, "cli:ops")
    assert summary == dry
    assert summary.created == ["response gift_wrapping"]
    assert summary.updated == ["article gift-cards"]
    assert summary.deleted == ["response thanks"]
    assert summary.unchanged == 31 + 35 + 1  # responses, articles, the order-status action
    assert store.load_snapshot(db_factory) == store.ContentSnapshot(2, content)
    again = store.import_content(db_factory, content, "cli:ops")
    assert not again.changed and store.content_revision(db_factory) == 2
