"""The labelled retrieval set: customer questions, the article(s) that answer each, and a split.

``data/retrieval/questions.csv`` has the columns ``question,articles,split``: ``articles`` is
one or more article ids (file stems of ``knowledge/*.md``) separated by ``;``, the first the
best answer; ``split`` is ``tune`` (fit thresholds, train the retriever adapter) or ``test``
(report only). Reading checks every row and reports all problems at once.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

QUESTIONS_FILE = Path("retrieval") / "questions.csv"
COLUMNS = ("question", "articles", "split")


class Split(StrEnum):
    TUNE = "tune"
    TEST = "test"


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    articles: tuple[str, ...]  # the first is the best answer; any of them counts as right
    split: Split

    @property
    def primary(self) -> str:
        return self.articles[0]


class QuestionSetError(ValueError):
    """The file is not a valid retrieval set; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_questions(path: Path, known_articles: Collection[str]) -> list[LabelledQuestion]:
    """Every row of ``path``; an article id outside ``known_articles`` is a problem."""
    if not path.is_file():
        raise QuestionSetError([f"{path}: not found"])
    problems: list[str] = []
    questions: list[LabelledQuestion] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise QuestionSetError([f"{path}: expected the columns {','.join(COLUMNS)}"])
        for line, row in enumerate(reader, start=2):
            where = f"{path.name} line {line}"
            question = (row["question"] or "").strip()
            articles = tuple(a.strip() for a in (row["articles"] or "").split(";") if a.strip())
            unknown = [a for a in articles if a not in known_articles]
            if not question:
                problems.append(f"{where}: empty question")
            if not articles:
                problems.append(f"{where}: no article")
            if unknown:
                problems.append(f"{where}: unknown article {unknown[0]!r}")
            if row["split"] not in tuple(Split):
                problems.append(f"{where}: split must be tune or test, not {row['split']!r}")
            elif question and articles and not unknown:
                questions.append(LabelledQuestion(question, articles, Split(row["split"])))
    if problems:
        raise QuestionSetError(problems)
    return questions
