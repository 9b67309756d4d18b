"""Content as files, the format of ``data/``: ``responses.yml`` and ``knowledge/<id>.md``.

``responses.yml`` maps each intent to ``title``, ``replies`` and the optional
``related_articles`` (false: never cite an article), ``handoff`` (true: queue the chat for a
person) and ``articles`` (ids of the articles that belong to the intent). An article is
``knowledge/<id>.md`` whose first line is ``# Title``. Reading checks everything and reports
every problem at once, one line each, so that an import writes nothing while any is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bot.actions.definitions import ACTIONS_FILE, ActionDefinition, definition_data, read_actions_file
from bot.chat.responses import IntentResponse
from bot.content.rules import article_problems, reference_problems, response_problems
from bot.retrieval.articles import Article

RESPONSES_FILE = "responses.yml"
KNOWLEDGE_DIR = "knowledge"
RESPONSE_KEYS = ("title", "replies", "related_articles", "handoff", "articles", "action")

HEADER = """\
# Canned replies per intent: a button title (customer's wording, max 30 chars) and 1-10
# alternative plain-text replies. Optional keys: related_articles (false: never cite a
# knowledge-base article, for small talk), handoff (true: answering this intent puts the chat
# in the queue for a person), articles (ids of the knowledge-base articles of the intent) and
# action (a business action of actions.yml that answering the intent runs, e.g. order_status).
# Served from the database: edit in the console, or here and run `bot content import`.
"""


@dataclass
class ContentSet:
    """All responses (by intent) and articles (by id)."""

    responses: dict[str, IntentResponse] = field(default_factory=dict)
    articles: dict[str, Article] = field(default_factory=dict)
    actions: dict[str, ActionDefinition] = field(default_factory=dict)


class ContentFileError(ValueError):
    """The files are not valid content; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_content_dir(folder: Path, knowledge_required: bool = True) -> ContentSet:
    """Read and check ``folder``; raises ContentFileError listing every problem. Without
    ``knowledge_required`` a folder with no ``knowledge/`` has no articles."""
    folder = Path(folder)
    problems: list[str] = []
    responses = _read_responses(folder / RESPONSES_FILE, problems)
    articles = {}
    if knowledge_required or (folder / KNOWLEDGE_DIR).is_dir():
        articles = _read_articles(folder / KNOWLEDGE_DIR, problems)
    else:
        # A dataset folder without articles: its responses have none to cite.
        responses = {intent: replace(response, articles=()) for intent, response in responses.items()}
    for intent, response in responses.items():
        problems += [f"{RESPONSES_FILE}: {p}" for p in response_problems(intent, response)]
    for article in articles.values():
        problems += [f"{KNOWLEDGE_DIR}/{article.id}.md: {p}" for p in article_problems(article)]
    problems += [f"{RESPONSES_FILE}: {p}" for p in reference_problems(responses, articles)]
    actions, action_problems = read_actions_file(folder / ACTIONS_FILE)
    problems += action_problems
    # A dataset folder without actions (like one without articles) leaves the references unchecked.
    if not action_problems and (knowledge_required or (folder / ACTIONS_FILE).is_file()):
        problems += [f"{RESPONSES_FILE}: {p}" for p in action_reference_problems(responses, actions)]
    if problems:
        raise ContentFileError(problems)
    return ContentSet(responses, articles, actions)


def action_reference_problems(
    responses: dict[str, IntentResponse], actions: dict[str, ActionDefinition] | set[str]
) -> list[str]:
    """Responses may only name actions that exist."""
    return [
        f"intent {intent!r}: names the action {response.action!r}, which does not exist"
        for intent, response in responses.items()
        if response.action is not None and response.action not in actions
    ]


def _read_responses(path: Path, problems: list[str]) -> dict[str, IntentResponse]:
    if not path.is_file():
        problems.append(f"{RESPONSES_FILE}: not found in {path.parent}")
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problems.append(f"{RESPONSES_FILE}: not valid YAML: {' '.join(str(error).split())}")
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{RESPONSES_FILE}: expected a mapping of intent names to responses")
        return {}
    responses = {}
    for intent, entry in raw.items():
        response = _parse_response(str(intent), entry, problems)
        if response is not None:
            responses[str(intent)] = response
    return responses


def _parse_response(intent: str, entry: Any, problems: list[str]) -> IntentResponse | None:
    where = f"{RESPONSES_FILE}: intent {intent!r}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a mapping with 'title' and 'replies'")
        return None
    unknown = sorted(str(key) for key in entry if key not in RESPONSE_KEYS)
    if unknown:
        problems.append(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(RESPONSE_KEYS)})")
    found = len(problems)
    title = entry.get("title", intent)
    if not isinstance(title, str):
        problems.append(f"{where}: 'title' must be text")
    replies = entry.get("replies")
    if not isinstance(replies, list) or not all(isinstance(reply, str) for reply in replies):
        problems.append(f"{where}: 'replies' must be a list of texts")
    for flag in ("related_articles", "handoff"):
        if not isinstance(entry.get(flag, False), bool):
            problems.append(f"{where}: {flag!r} must be true or false")
    articles = entry.get("articles") or []
    if not isinstance(articles, list) or not all(isinstance(article, str) for article in articles):
        problems.append(f"{where}: 'articles' must be a list of article ids")
    action = entry.get("action")
    if action is not None and not isinstance(action, str):
        problems.append(f"{where}: 'action' must be the name of an action")
    if len(problems) > found:
        return None
    return IntentResponse(
        title=title,
        replies=[str(reply) for reply in replies or ()],
        related_articles=entry.get("related_articles", True),
        handoff=entry.get("handoff", False),
        articles=tuple(articles),
        action=action or None,
    )


def _read_articles(folder: Path, problems: list[str]) -> dict[str, Article]:
    if not folder.is_dir():
        problems.append(f"{KNOWLEDGE_DIR}/: folder not found in {folder.parent}")
        return {}
    articles = {}
    for path in sorted(folder.glob("*.md")):
        where = f"{KNOWLEDGE_DIR}/{path.name}"
        try:
            lines = path.read_text(encoding="utf-8").strip().splitlines()
        except UnicodeDecodeError:
            problems.append(f"{where}: not UTF-8 text")
            continue
        if not lines or not lines[0].startswith("# "):
            problems.append(f"{where}: an article must start with a '# Title' line")
            continue
        articles[path.stem] = Article(path.stem, lines[0][2:].strip(), "\n".join(lines[1:]).strip())
    return articles


def write_content_dir(content: ContentSet, folder: Path) -> list[Path]:
    """Write ``content`` into ``folder``; returns the article files removed because the content
    no longer has them (so that importing the folder again gives the same content)."""
    folder = Path(folder)
    knowledge = folder / KNOWLEDGE_DIR
    knowledge.mkdir(parents=True, exist_ok=True)
    _write_text(folder / RESPONSES_FILE, responses_yaml(content.responses))
    if content.actions:
        _write_text(folder / ACTIONS_FILE, actions_yaml(content.actions))
    for article in content.articles.values():
        _write_text(knowledge / f"{article.id}.md", article_markdown(article))
    stale = [path for path in sorted(knowledge.glob("*.md")) if path.stem not in content.articles]
    for path in stale:
        path.unlink()
    return stale


def responses_yaml(responses: dict[str, IntentResponse]) -> str:
    blocks = [HEADER]
    for intent in sorted(responses):
        response = responses[intent]
        entry: dict[str, Any] = {"title": response.title, "replies": list(response.replies)}
        if not response.related_articles:
            entry["related_articles"] = False
        if response.handoff:
            entry["handoff"] = True
        if response.articles:
            entry["articles"] = list(response.articles)
        if response.action:
            entry["action"] = response.action
        blocks.append(yaml.safe_dump({intent: entry}, sort_keys=False, allow_unicode=True, width=1_000_000))
    return "\n".join(blocks)


def actions_yaml(actions: dict[str, ActionDefinition]) -> str:
    blocks = ["# Business actions (README: Business actions). Served from the database.\n"]
    for name in sorted(actions):
        data = definition_data(actions[name])
        blocks.append(yaml.safe_dump({name: data}, sort_keys=False, allow_unicode=True, width=1_000_000))
    return "\n".join(blocks)


def article_markdown(article: Article) -> str:
    return f"# {article.title}\n\n{article.body.strip()}\n"


def _write_text(path: Path, text: str) -> None:
    # Write beside and rename, so that a reader never sees half a file.
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
