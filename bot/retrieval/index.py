"""Cosine top-k search over embedded article chunks, persisted and rebuilt when articles change."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from bot.encoder import load_sentence_encoder
from bot.retrieval.articles import Article, Chunk, chunk_article, fingerprint, load_articles

CACHE_FILE = "kb_index.npz"


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    text: str
    score: float


@dataclass(frozen=True)
class Entries:
    """What a search reads, replaced in one assignment so that a search never sees the chunks
    of one version beside the vectors of another. ``digests`` fingerprint each article's text."""

    chunks: list[Chunk]
    vectors: np.ndarray
    digests: dict[str, str]
    titles: dict[str, str]


class KnowledgeIndex:
    """Article chunks and their embeddings; ``bf16_queries`` embeds the customers' queries under
    bf16 autocast (where the CPU computes bf16 natively: 2.6x faster at batch 32, cosine to the
    fp32 embedding above 0.9999). The chunks themselves are embedded in fp32.

    Articles can be replaced one by one while the index serves (``update_articles``): only the
    changed articles' chunks are embedded, every other vector is kept as it was.

    ``query_encoder`` embeds the customers' queries where it differs from ``encoder`` (which
    embeds the articles): the retriever adapted to the shop (``bot/retrieval/adapter.py``).
    """

    def __init__(
        self,
        encoder: SentenceTransformer,
        chunks: list[Chunk],
        vectors: np.ndarray,
        bf16_queries: bool = False,
        digests: dict[str, str] | None = None,
        query_encoder: SentenceTransformer | None = None,
    ) -> None:
        self.encoder = encoder
        self.query_encoder = query_encoder or encoder
        self.bf16_queries = bf16_queries
        self.lock = threading.Lock()
        self._entries = _entries(chunks, vectors, digests or {})

    @property
    def entries(self) -> Entries:
        """The chunks and vectors of one version, read together."""
        return self._entries

    @property
    def chunks(self) -> list[Chunk]:
        return self._entries.chunks

    @property
    def vectors(self) -> np.ndarray:
        return self._entries.vectors

    @property
    def articles(self) -> dict[str, str]:
        """Title by article id."""
        return self._entries.titles

    @property
    def digests(self) -> dict[str, str]:
        """Fingerprint of each article's title and body, for articles indexed from their text."""
        return self._entries.digests

    def copy(self) -> KnowledgeIndex:
        """An index that starts with the same articles and changes on its own; it shares the
        encoder (and the lock that keeps the encoder to one caller at a time)."""
        twin = KnowledgeIndex.__new__(KnowledgeIndex)
        twin.encoder, twin.bf16_queries = self.encoder, self.bf16_queries
        twin.query_encoder = self.query_encoder
        twin.lock, twin._entries = self.lock, self._entries
        return twin

    def embed(self, texts: list[str], bf16: bool = False, queries: bool = False) -> np.ndarray:
        encoder = self.query_encoder if queries else self.encoder
        # Autocast on the encoder's own device (``BOT_DEVICE``): on a GPU a CPU autocast does nothing.
        with self.lock, torch.autocast(encoder.device.type, dtype=torch.bfloat16, enabled=bf16):
            return encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)

    def update_articles(self, changed: Sequence[Article], removed: Collection[str] = ()) -> int:
        """Index ``changed`` articles (new or edited) and drop ``removed`` ones; returns the
        number of chunks embedded. Chunks stay grouped by article, articles in id order."""
        entries = self._entries
        new_chunks = [chunk for article in changed for chunk in chunk_article(article)]
        new_vectors = self.embed([chunk.text for chunk in new_chunks]) if new_chunks else None
        gone = set(removed) | {article.id for article in changed}
        rows: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
        for chunk, vector in zip(entries.chunks, entries.vectors, strict=True):
            if chunk.article_id not in gone:
                rows.setdefault(chunk.article_id, []).append((chunk, vector))
        for i, chunk in enumerate(new_chunks):
            assert new_vectors is not None
            rows.setdefault(chunk.article_id, []).append((chunk, new_vectors[i]))
        ordered = [row for article_id in sorted(rows) for row in rows[article_id]]
        digests = {key: value for key, value in entries.digests.items() if key not in gone}
        digests.update({article.id: article_digest(article) for article in changed})
        width = entries.vectors.shape[1] if entries.vectors.ndim == 2 else 1
        vectors = (
            np.stack([vector for _, vector in ordered]).astype(np.float32)
            if ordered
            else np.zeros((0, width), dtype=np.float32)
        )
        self._entries = _entries([chunk for chunk, _ in ordered], vectors, digests)
        return len(new_chunks)

    def sync_articles(self, articles: Mapping[str, Article]) -> list[str]:
        """Make the index hold exactly ``articles``, embedding only those whose text changed;
        returns the ids of the articles added, changed or removed."""
        digests = self.digests
        changed = [a for key, a in sorted(articles.items()) if digests.get(key) != article_digest(a)]
        removed = sorted(set(self.articles) - set(articles))
        if changed or removed:
            self.update_articles(changed, removed)
        return [article.id for article in changed] + removed

    def search(self, query: str, top_k: int = 3) -> list[Hit]:
        return self.search_many([query], top_k)[0]

    def search_many(self, queries: list[str], top_k: int = 3) -> list[list[Hit]]:
        """Best ``top_k`` articles per query: each article once, at its best chunk's score."""
        entries = self._entries
        if not entries.chunks:
            return [[] for _ in queries]
        scores = self.embed(queries, bf16=self.bf16_queries, queries=True) @ entries.vectors.T
        return [best_articles(entries.chunks, row, top_k) for row in scores]


def _entries(chunks: list[Chunk], vectors: np.ndarray, digests: dict[str, str]) -> Entries:
    return Entries(chunks, vectors, digests, {chunk.article_id: chunk.title for chunk in chunks})


def best_articles(chunks: list[Chunk], row: np.ndarray, top_k: int) -> list[Hit]:
    hits: list[Hit] = []
    seen: set[str] = set()
    for i in np.argsort(-row):
        chunk = chunks[int(i)]
        if chunk.article_id in seen:
            continue
        seen.add(chunk.article_id)
        hits.append(Hit(chunk.article_id, chunk.title, chunk.text, float(row[i])))
        if len(hits) == top_k:
            break
    return hits


def article_digest(article: Article) -> str:
    return hashlib.sha256(f"{article.id}\0{article.title}\0{article.body}".encode()).hexdigest()


def load_encoder(model_id: str, device: str = "cpu") -> SentenceTransformer:
    return load_sentence_encoder(model_id, device)


def build_index(
    knowledge_dir: Path,
    cache_dir: Path,
    encoder: SentenceTransformer,
    model_id: str,
    bf16_queries: bool = False,
    shipped_dir: Path | None = None,
) -> KnowledgeIndex:
    """The index of the articles in ``knowledge_dir`` (see ``build_index_of``)."""
    articles = load_articles(knowledge_dir) if Path(knowledge_dir).is_dir() else []
    return build_index_of(articles, cache_dir, encoder, model_id, bf16_queries, shipped_dir)


def build_index_of(
    articles: Sequence[Article],
    cache_dir: Path,
    encoder: SentenceTransformer,
    model_id: str,
    bf16_queries: bool = False,
    shipped_dir: Path | None = None,
) -> KnowledgeIndex:
    """Load the cached index when its fingerprint matches the articles, else embed and save.

    ``shipped_dir`` holds the index of the shipped articles (``data/kb_index.npz``, written by
    ``make index``): a first start on the seed content reads it instead of spending about 10 s of
    CPU embedding 213 chunks. Any other content misses its fingerprint and is embedded.
    """
    articles = sorted(articles, key=lambda article: article.id)
    chunks = [chunk for article in articles for chunk in chunk_article(article)]
    digests = {article.id: article_digest(article) for article in articles}
    key = fingerprint(articles, model_id)
    cached = _load_cached(cache_dir, key)
    if cached is None and shipped_dir is not None:
        cached = _load_cached(shipped_dir, key)
        if cached is not None and len(cached) == len(chunks):
            _save_cached(cache_dir, key, cached)
    if cached is not None and len(cached) == len(chunks):
        return KnowledgeIndex(encoder, chunks, cached, bf16_queries, digests)
    index = KnowledgeIndex(encoder, [], np.zeros((0, 1), dtype=np.float32), bf16_queries)
    vectors = index.embed([chunk.text for chunk in chunks]) if chunks else np.zeros((0, 1), dtype=np.float32)
    _save_cached(cache_dir, key, vectors)
    return KnowledgeIndex(encoder, chunks, vectors, bf16_queries, digests)


def save_index(index: KnowledgeIndex, articles: Sequence[Article], cache_dir: Path, model_id: str) -> None:
    """Cache ``index`` (which holds exactly ``articles``) so that a restart need not embed it."""
    ordered = sorted(articles, key=lambda article: article.id)
    _save_cached(cache_dir, fingerprint(ordered, model_id), index.vectors)


def _load_cached(cache_dir: Path, key: str) -> np.ndarray | None:
    path = Path(cache_dir) / CACHE_FILE
    try:
        with np.load(path) as cached:
            if str(cached["fingerprint"]) != key:
                return None
            return np.asarray(cached["vectors"])
    except (OSError, KeyError, ValueError):  # missing, or cut short by a crash: embed again
        return None


def _save_cached(cache_dir: Path, key: str, vectors: np.ndarray) -> None:
    """The fingerprint and the vectors live in one file that is replaced in one rename, so
    processes that save at the same time never leave one's fingerprint beside another's vectors."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f".{CACHE_FILE}.{os.getpid()}.{threading.get_ident()}.partial"
    with partial.open("wb") as handle:
        np.savez(handle, fingerprint=np.array(key), vectors=vectors)
    partial.replace(cache_dir / CACHE_FILE)
