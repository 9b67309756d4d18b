"""`bot content export DIR` / `bot content import DIR`: a files-in-git round trip, and a bad
folder refused with one line per problem and nothing written."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.config import PROJECT_ROOT
from bot.content import store
from bot.content.files import read_content_dir

DATA = PROJECT_ROOT / "data"


def bot(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["content", *args], env={"BOT_DATABASE_URL": database_url})


def test_export_edit_import_round_trip_through_files(
    database_url: str, db_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    store.seed_if_empty(db_factory, DATA)
    exported = bot(database_url, "export", str(tmp_path / "content"))
    assert exported.exit_code == 0, exported.output
    assert "exported 32 responses and 36 articles" in exported.output
    assert read_content_dir(tmp_path / "content") == read_content_dir(DATA)

    article = tmp_path / "content" / "knowledge" / "gift-cards.md"
    article.write_text("# Gift Cards\n\nGift cards never expire.\n", encoding="utf-8")
    # No intent lists this article, so it can go without editing responses.yml.
    (tmp_path / "content" / "knowledge" / "contacting-customer-service.md").unlink()
    imported = bot(database_url, "import", str(tmp_path / "content"), "--actor", "git:main")
    assert imported.exit_code == 0, imported.output
    assert "updated: article gift-cards" in imported.output
    assert "deleted: article contacting-customer-service" in imported.output
    assert "1 updated, 1 deleted, 67 unchanged" in imported.output  # 66 items and the action
    snapshot = store.load_snapshot(db_factory)
    assert snapshot.content.articles["gift-cards"].body == "Gift cards never expire."
    assert "contacting-customer-service" not in snapshot.content.articles
    assert store.history(db_factory, store.ARTICLE, "gift-cards")[0].actor == "git:main"

    again = bot(database_url, "export", str(tmp_path / "content"))
    assert again.exit_code == 0 and read_content_dir(tmp_path / "content") == snapshot.content


def test_import_of_a_bad_folder_lists_each_problem_and_writes_nothing(
    database_url: str, db_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    store.seed_if_empty(db_factory, DATA)
    assert bot(database_url, "export", str(tmp_path)).exit_code == 0
    (tmp_path / "knowledge" / "gift-cards.md").write_text("# Gift Cards\n\nChanged.\n", encoding="utf-8")
    (tmp_path / "knowledge" / "broken.md").write_text("no title\n", encoding="utf-8")
    responses = tmp_path / "responses.yml"
    responses.write_text(
        responses.read_text(encoding="utf-8") + "refund_status: {title: R}\n", encoding="utf-8"
    )
    result = bot(database_url, "import", str(tmp_path))
    assert result.exit_code == 1
    assert "error: knowledge/broken.md: an article must start with a '# Title' line" in result.output
    assert "error: responses.yml: intent 'refund_status': 'replies' must be a list of texts" in result.output
    assert "2 problem(s)" in result.output and "nothing was imported" in result.output
    assert store.content_revision(db_factory) == 1
    assert store.load_snapshot(db_factory).content == read_content_dir(DATA)


def test_export_refuses_a_database_without_content(database_url: str, tmp_path: Path) -> None:
    result = bot(database_url, "export", str(tmp_path / "out"))
    assert result.exit_code == 1 and "holds no content yet" in result.output
    assert not (tmp_path / "out").exists()


def test_dry_run_shows_the_changes_and_writes_nothing(
    database_url: str, db_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    store.seed_if_empty(db_factory, DATA)
    bot(database_url, "export", str(tmp_path))
    (tmp_path / "knowledge" / "parking.md").write_text("# Parking\n\nFree parking.\n", encoding="utf-8")
    result = bot(database_url, "import", str(tmp_path), "--dry-run")
    assert result.exit_code == 0
    assert "created: article parking" in result.output and "nothing was written" in result.output
    assert store.content_revision(db_factory) == 1
