"""Knowledge-base articles: markdown files whose first line is ``# Title``, cut into chunks."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

MAX_CHUNK_WORDS = 120


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str


@dataclass(frozen=True)
class Chunk:
    article_id: str
    title: str
    text: str


def load_articles(folder: Path) -> list[Article]:
    articles = []
    for path in sorted(Path(folder).glob("*.md")):
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        if not lines or not lines[0].startswith("# "):
            raise ValueError(f"{path}: an article must start with a '# Title' line")
        articles.append(Article(path.stem, lines[0][2:].strip(), "\n".join(lines[1:]).strip()))
    return articles


def article_url(base_url: str, article_id: str) -> str | None:
    """The public page of an article: the help centre's address plus the article's id (its
    file stem, already a slug); None without an address."""
    return f"{base_url.rstrip('/')}/{article_id}" if base_url else None


def chunk_article(article: Article) -> list[Chunk]:
    """Split at ``##`` headings, then pack paragraphs up to MAX_CHUNK_WORDS.

    Every chunk starts with the article title (and its section heading) so that a chunk
    embedded alone still says what it is about.
    """
    chunks = []
    for heading, section in _sections(article.body):
        prefix = f"{article.title}. {heading}. " if heading else f"{article.title}. "
        packed: list[str] = []
        for paragraph in re.split(r"\n\s*\n", section):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            if packed and len(" ".join(packed + [paragraph]).split()) > MAX_CHUNK_WORDS:
                chunks.append(Chunk(article.id, article.title, prefix + " ".join(packed)))
                packed = []
            packed.append(paragraph)
        if packed:
            chunks.append(Chunk(article.id, article.title, prefix + " ".join(packed)))
    return chunks or [Chunk(article.id, article.title, article.title)]


def _sections(body: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, str]] = []
    heading, lines = "", list[str]()
    for line in body.splitlines():
        if line.startswith("## "):
            sections.append((heading, "\n".join(lines)))
            heading, lines = line[3:].strip(), []
        else:
            lines.append(line)
    sections.append((heading, "\n".join(lines)))
    return [(h, text) for h, text in sections if text.strip()]


def fingerprint(articles: list[Article], model_id: str) -> str:
    digest = hashlib.sha256(model_id.encode())
    for article in articles:
        digest.update(f"\0{article.id}\0{article.title}\0{article.body}".encode())
    return digest.hexdigest()
