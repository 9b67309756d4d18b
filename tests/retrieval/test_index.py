"""The knowledge retriever: right article for a question, cached index, rebuilt on change."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import DEFAULT_BASE_MODEL, PROJECT_ROOT
from bot.intents.base_model import cpu_supports_bf16
from bot.retrieval.articles import MAX_CHUNK_WORDS, Article, chunk_article, fingerprint, load_articles
from bot.retrieval.index import CACHE_FILE, Hit, KnowledgeIndex, build_index
from bot.services import Models

ARTICLES = {
    "pets.md": "# Pets in our shops\n\nDogs and cats are welcome in every Northwind shop on a lead.\n",
    "opening-hours.md": "# Opening hours\n\nOur shops open from 9:00 to 18:00, Monday to Saturday.\n",
}


@pytest.mark.parametrize(
    ("question", "article_id"),
    [
        ("do you give a discount to students?", "student-discount"),
        ("can I pay later with klarna", "klarna-pay-later"),
        ("do I have to pay customs duties when shipping to switzerland", "international-shipping-customs"),
        ("my account is locked after too many login attempts", "login-problems-account-lock-2fa"),
        ("I was charged twice for my order", "failed-payments-double-charges"),
        ("is your packaging recyclable", "sustainable-packaging"),
    ],
)
def test_knowledge_question_finds_the_right_article(models: Models, question: str, article_id: str) -> None:
    best = models.index.search(question, top_k=3)[0]
    assert best.article_id == article_id
    assert best.title == models.index.articles[article_id]
    assert best.score >= 0.45  # the default retrieval threshold


def test_unrelated_question_is_not_similar_to_any_article(models: Models) -> None:
    assert all(hit.score < 0.45 for hit in models.index.search("what is the capital of peru", top_k=5))


def test_each_article_appears_once_in_score_order(models: Models) -> None:
    hits = models.index.search_many(["where is my parcel", "how do I return shoes"], top_k=5)
    for row in hits:
        assert len(row) == 5
        assert len({hit.article_id for hit in row}) == 5
        assert [hit.score for hit in row] == sorted((hit.score for hit in row), reverse=True)


def test_index_covers_every_shipped_article(models: Models) -> None:
    ids = {path.stem for path in (PROJECT_ROOT / "data" / "knowledge").glob("*.md")}
    assert set(models.index.articles) == ids and len(ids) >= 30


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def encode_calls(models: Models, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many texts each call of the shared encoder's ``encode`` embedded."""
    encoder = models.index.encoder
    calls: list[int] = []
    original: Callable[..., Any] = encoder.encode

    def counting(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(encoder, "encode", counting)
    return calls


def build(
    models: Models, knowledge_dir: Path, cache: Path, model_id: str = DEFAULT_BASE_MODEL
) -> KnowledgeIndex:
    return build_index(knowledge_dir, cache, models.index.encoder, model_id)


def test_second_build_reads_the_cache_without_embedding(
    models: Models, knowledge_dir: Path, tmp_path: Path, encode_calls: list[int]
) -> None:
    cache = tmp_path / "cache"
    first = build(models, knowledge_dir, cache)
    assert encode_calls == [2]
    written = (cache / CACHE_FILE).stat().st_mtime_ns
    second = build(models, knowledge_dir, cache)
    assert encode_calls == [2]
    assert (cache / CACHE_FILE).stat().st_mtime_ns == written
    np.testing.assert_array_equal(second.vectors, first.vectors)
    assert second.search("can I bring my dog", top_k=1)[0].article_id == "pets"


def test_changed_article_rebuilds_the_index(
    models: Models, knowledge_dir: Path, tmp_path: Path, encode_calls: list[int]
) -> None:
    cache = tmp_path / "cache"
    build(models, knowledge_dir, cache)
    (knowledge_dir / "opening-hours.md").write_text(
        "# Opening hours\n\nGift wrapping is free at the till in every shop.\n", encoding="utf-8"
    )
    rebuilt = build(models, knowledge_dir, cache)
    assert encode_calls == [2, 2]
    build(models, knowledge_dir, cache)
    assert encode_calls == [2, 2], "the rebuilt index must be cached in turn"
    assert rebuilt.search("do you wrap presents", top_k=1)[0].article_id == "opening-hours"


def test_added_and_removed_articles_rebuild_the_index(
    models: Models, knowledge_dir: Path, tmp_path: Path, encode_calls: list[int]
) -> None:
    cache = tmp_path / "cache"
    build(models, knowledge_dir, cache)
    (knowledge_dir / "parking.md").write_text(
        "# Parking\n\nFree parking behind every shop.\n", encoding="utf-8"
    )
    assert set(build(models, knowledge_dir, cache).articles) == {"pets", "opening-hours", "parking"}
    (knowledge_dir / "pets.md").unlink()
    assert set(build(models, knowledge_dir, cache).articles) == {"opening-hours", "parking"}
    assert len(encode_calls) == 3


KNITTING = Article(
    "sustainable-packaging",
    "Sustainable packaging",
    "Our Berlin shop hosts a free knitting workshop every Thursday evening; bring your own wool.",
)


def test_editing_one_article_embeds_only_its_chunks_and_keeps_every_other_vector(
    models: Models, encode_calls: list[int]
) -> None:
    question = "is there a knitting workshop on thursdays"
    assert models.index.search(question, top_k=1)[0].article_id != KNITTING.id
    encode_calls.clear()
    index = models.index.copy()
    assert index.update_articles([KNITTING]) == 1
    assert encode_calls == [1], "one chunk embedded: the edited article's, no other"
    shared = {
        (c.article_id, c.text): v for c, v in zip(models.index.chunks, models.index.vectors, strict=True)
    }
    others = [(c, v) for c, v in zip(index.chunks, index.vectors, strict=True) if c.article_id != KNITTING.id]
    assert len(others) == sum(c.article_id != KNITTING.id for c in models.index.chunks)
    for chunk, vector in others:
        np.testing.assert_array_equal(vector, shared[(chunk.article_id, chunk.text)])
    assert index.search(question, top_k=1)[0].article_id == KNITTING.id
    assert models.index.search(question, top_k=1)[0].article_id != KNITTING.id, "the copy changed alone"


def test_sync_embeds_added_and_changed_articles_and_drops_removed_ones(
    models: Models, encode_calls: list[int]
) -> None:
    index = models.index.copy()
    encode_calls.clear()
    assert index.sync_articles({**_shipped(models), KNITTING.id: KNITTING}) == [KNITTING.id]
    articles = {key: a for key, a in _shipped(models).items() if key != "gift-cards"} | {
        KNITTING.id: KNITTING
    }
    parking = Article("parking", "Parking", "Free parking behind every shop.")
    assert index.sync_articles({**articles, "parking": parking}) == ["parking", "gift-cards"]
    assert "gift-cards" not in index.articles and index.articles["parking"] == "Parking"
    assert encode_calls == [1, 1]
    assert index.sync_articles({**articles, "parking": parking}) == []
    assert encode_calls == [1, 1]


def _shipped(models: Models) -> dict[str, Article]:
    return {article.id: article for article in load_articles(PROJECT_ROOT / "data" / "knowledge")}


def test_another_encoder_id_does_not_reuse_the_cache(
    models: Models, knowledge_dir: Path, tmp_path: Path, encode_calls: list[int]
) -> None:
    cache = tmp_path / "cache"
    build(models, knowledge_dir, cache)
    build(models, knowledge_dir, cache, model_id="some/other-encoder")
    assert len(encode_calls) == 2


def test_empty_knowledge_folder_gives_an_index_that_finds_nothing(models: Models, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    index = build(models, empty, tmp_path / "cache")
    assert index.search("anything") == []


def test_article_without_a_title_line_is_refused_by_name(knowledge_dir: Path) -> None:
    (knowledge_dir / "untitled.md").write_text("Just some text.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="untitled.md"):
        load_articles(knowledge_dir)


def test_long_article_is_cut_into_titled_chunks() -> None:
    paragraphs = "\n\n".join(" ".join(["word"] * 50) for _ in range(6))
    article = Article("long", "Long article", f"## Part one\n\n{paragraphs}\n\n## Part two\n\nShort end.")
    chunks = chunk_article(article)
    assert len(chunks) == 4
    assert all(chunk.text.startswith("Long article. Part ") for chunk in chunks)
    assert all(len(chunk.text.split()) <= MAX_CHUNK_WORDS + 5 for chunk in chunks)
    assert chunks[-1].text == "Long article. Part two. Short end."


def test_bf16_queries_find_the_articles_that_fp32_queries_find(models: Models) -> None:
    """Forced on even where bf16 is emulated; the served setting is checked below."""
    with (PROJECT_ROOT / "data" / "test.csv").open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][::6]
    index = models.index

    def search(bf16: bool) -> list[list[Hit]]:
        return KnowledgeIndex(index.encoder, index.chunks, index.vectors, bf16).search_many(texts, 3)

    fp32, bf16 = search(False), search(True)
    assert len(texts) >= 60
    same_best = sum(a[0].article_id == b[0].article_id for a, b in zip(fp32, bf16, strict=True))
    assert same_best >= 0.95 * len(texts)
    for a, b in zip(fp32, bf16, strict=True):
        assert b[0].score == pytest.approx(a[0].score, abs=0.02)


def test_served_queries_use_bf16_exactly_where_the_cpu_computes_it(models: Models) -> None:
    assert models.index.bf16_queries is cpu_supports_bf16()


def test_the_shipped_index_is_the_index_of_the_shipped_articles(models: Models) -> None:
    articles = sorted(load_articles(PROJECT_ROOT / "data" / "knowledge"), key=lambda article: article.id)
    with np.load(PROJECT_ROOT / "data" / CACHE_FILE) as shipped:
        assert str(shipped["fingerprint"]) == fingerprint(articles, DEFAULT_BASE_MODEL), "run `make index`"
        vectors = np.asarray(shipped["vectors"])
    chunks = [chunk for article in articles for chunk in chunk_article(article)]
    assert vectors.shape == (len(chunks), 384)
    sample = list(range(0, len(chunks), 25))
    fresh = models.index.embed([chunks[i].text for i in sample])
    assert np.abs(fresh - vectors[sample]).max() < 1e-4


def test_a_first_start_on_the_shipped_articles_reads_their_index_instead_of_embedding(
    models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_embedding(*_: Any, **__: Any) -> np.ndarray:
        raise AssertionError("the shipped articles were embedded again")

    monkeypatch.setattr(KnowledgeIndex, "embed", no_embedding)
    data = PROJECT_ROOT / "data"
    index = build_index(
        data / "knowledge", tmp_path, models.index.encoder, DEFAULT_BASE_MODEL, shipped_dir=data
    )
    assert len(index.chunks) == len(models.index.chunks)
    assert (tmp_path / CACHE_FILE).exists()  # later starts read the state folder's copy
