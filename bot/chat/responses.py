"""Canned replies per intent: the served snapshot of the content (``bot/content``), or ``responses.yml``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from bot.actions.definitions import ActionDefinition


@dataclass(frozen=True)
class IntentResponse:
    """``related_articles`` false never cites an article (small talk); ``articles`` names the
    knowledge-base articles that belong to the intent."""

    title: str
    replies: list[str]
    related_articles: bool = True
    handoff: bool = False
    articles: tuple[str, ...] = ()
    # A business action (``data/actions.yml``) that answering this intent runs instead of the
    # canned reply; the canned reply stays as the first part of its fallback.
    action: str | None = None


class ResponseBook:
    def __init__(
        self,
        responses: dict[str, IntentResponse],
        seed: int | None = None,
        actions: dict[str, ActionDefinition] | None = None,
    ) -> None:
        self.responses = responses
        # The business actions' definitions, swapped together with the replies that name them.
        self.actions: dict[str, ActionDefinition] = actions or {}
        self._rng = random.Random(seed)

    def title(self, intent: str) -> str:
        response = self.responses.get(intent)
        return response.title if response else intent.replace("_", " ").capitalize()

    def reply(self, intent: str) -> str | None:
        response = self.responses.get(intent)
        return self._rng.choice(response.replies) if response and response.replies else None

    def get(self, intent: str) -> IntentResponse | None:
        return self.responses.get(intent)


def load_responses(path: Path) -> ResponseBook:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of intent names to replies")
    responses = {}
    for intent, entry in raw.items():
        if not isinstance(entry, dict) or not entry.get("replies"):
            raise ValueError(f"{path}: intent {intent!r} needs a 'replies' list")
        responses[str(intent)] = IntentResponse(
            title=str(entry.get("title") or intent),
            replies=[str(reply) for reply in entry["replies"]],
            related_articles=bool(entry.get("related_articles", True)),
            handoff=bool(entry.get("handoff", False)),
            articles=tuple(str(article) for article in entry.get("articles") or ()),
            action=str(entry["action"]) if entry.get("action") else None,
        )
    return ResponseBook(responses)
