"""Content as files: the shipped data reads cleanly, writing and reading round-trips, and a bad
folder is refused with every problem listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.chat.responses import IntentResponse
from bot.config import PROJECT_ROOT
from bot.content.files import ContentFileError, ContentSet, read_content_dir, write_content_dir
from bot.retrieval.articles import Article

DATA = PROJECT_ROOT / "data"


def test_shipped_data_is_valid_content() -> None:
    content = read_content_dir(DATA)
    assert len(content.responses) == 32 and len(content.articles) == 36
    assert content.responses["human_agent"].handoff
    assert not content.responses["greeting"].related_articles
    assert content.articles["gift-cards"].title == "Gift Cards"


def test_written_content_reads_back_equal_and_stale_articles_are_removed(tmp_path: Path) -> None:
    content = read_content_dir(DATA)
    content.responses["gift_wrapping"] = IntentResponse(
        "Gift wrapping", ['We wrap gifts for 3.50 EUR: "Gift wrap" at checkout.'], articles=("gift-cards",)
    )
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "old-article.md").write_text("# Old\n\nGone.\n", encoding="utf-8")
    removed = write_content_dir(content, tmp_path)
    assert [path.name for path in removed] == ["old-article.md"]
    assert read_content_dir(tmp_path) == content


def test_every_problem_in_a_bad_folder_is_reported_on_its_own_line(tmp_path: Path) -> None:
    shutil.copytree(DATA / "knowledge", tmp_path / "knowledge")
    (tmp_path / "responses.yml").write_text(
        "track_order:\n  title: Track\n  replies: []\n"
        "greeting:\n  title: Hi\n  replies: [Hello]\n  colour: blue\n"
        "Bad-Name:\n  title: X\n  replies: [Y]\n"
        "refund_status:\n  title: Refund\n  replies: [Soon]\n  articles: [no-such-article]\n",
        encoding="utf-8",
    )
    (tmp_path / "knowledge" / "untitled.md").write_text("No title line\n", encoding="utf-8")
    with pytest.raises(ContentFileError) as refused:
        read_content_dir(tmp_path)
    problems = refused.value.problems
    expected = [
        "responses.yml: intent 'greeting': unknown key 'colour'",
        "knowledge/untitled.md: an article must start with a '# Title' line",
        "responses.yml: intent 'track_order': needs 1-10 replies",
        "responses.yml: intent 'Bad-Name': a name has 2-63 characters",
        "responses.yml: intent 'refund_status': lists the article 'no-such-article', which does not exist",
    ]
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)
    assert all("\n" not in problem for problem in problems)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("track_order: [unclosed\n", "responses.yml: not valid YAML"),
        ("- just\n- a list\n", "responses.yml: expected a mapping"),
        (
            "track_order:\n  title: T\n  replies: [a, b]\n  handoff: maybe\n",
            "'handoff' must be true or false",
        ),
        ("track_order:\n  title: " + "x" * 31 + "\n  replies: [a]\n", "the title needs 1-30 characters"),
    ],
)
def test_malformed_responses_file_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "responses.yml").write_text(text, encoding="utf-8")
    with pytest.raises(ContentFileError, match=problem):
        read_content_dir(tmp_path)


def test_folder_without_the_content_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContentFileError) as refused:
        read_content_dir(tmp_path)
    assert [p.split(":")[0] for p in refused.value.problems] == ["responses.yml", "knowledge/"]


def test_article_with_a_bad_id_is_refused(tmp_path: Path) -> None:
    write_content_dir(ContentSet({}, {"Bad_Id": Article("Bad_Id", "Title", "Body")}), tmp_path)
    with pytest.raises(ContentFileError, match="knowledge/Bad_Id.md: article 'Bad_Id': an id has"):
        read_content_dir(tmp_path)


def test_a_dataset_folder_without_articles_seeds_replies_only(tmp_path: Path) -> None:
    shutil.copy(DATA / "responses.yml", tmp_path / "responses.yml")
    content = read_content_dir(tmp_path, knowledge_required=False)
    assert len(content.responses) == 32 and content.articles == {}
