"""What an action is: an HTTP call to the shop's backend, the slots it needs, and its replies.

Definitions are content (``data/actions.yml``, stored in the database, edited by operators); a
secret never is: a header or the signature names a secret (``${SHOP_TOKEN}``, ``sign: SHOP``)
and its value comes from ``BOT_ACTION_SECRETS`` (``bot/config.py``). Checking a definition
returns every problem as one line, so an import writes nothing while any is left.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.actions.slot_values import VALIDATORS
from bot.actions.templates import template_problems

ACTIONS_FILE = "actions.yml"
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,62}$")
# ``${NAME}`` in a header value: the secret of that name from BOT_ACTION_SECRETS.
SECRET_REFERENCE = re.compile(r"\$\{([^}]*)\}")
# ``{slot}`` in the path: the slot's value, URL-quoted. Only plain names, never expressions.
PATH_PLACEHOLDER = re.compile(r"\{([^}]*)\}")
IDEMPOTENT_METHODS = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}

DEFAULT_FALLBACK = "I can't look that up right now. Would you like me to connect you with a person who can?"
DEFAULT_NOT_FOUND = "I couldn't find anything that matches those details. Please check them and try again."
DEFAULT_TOO_MANY = (
    "I can't look up more details in this conversation right now. A person from our team can help: "
    "would you like me to connect you?"
)


class Method(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class Slot(BaseModel):
    """One value the action needs from the customer.

    ``pattern`` finds the value inside a sentence ("where is NW-10042?"); ``validator`` (a name
    from ``bot/actions/slot_values.py``) checks and normalises it; ``prompt`` asks for it and
    ``hint`` follows a wrong answer; ``personal`` values are redacted wherever they are stored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    prompt: str = Field(min_length=1, max_length=500)
    hint: str = Field(min_length=1, max_length=500)
    pattern: str = Field(min_length=1, max_length=500)
    validator: str
    personal: bool = False
    label: str = Field(default="", max_length=60)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a regular expression: {error}") from None
        return value

    @field_validator("validator")
    @classmethod
    def _known_validator(cls, value: str) -> str:
        if value not in VALIDATORS:
            raise ValueError(f"unknown validator {value!r} (known: {', '.join(sorted(VALIDATORS))})")
        return value

    @property
    def shown_name(self) -> str:
        return self.label or self.name.replace("_", " ")


class Breaker(BaseModel):
    """Open the circuit after ``failures`` failed calls in a row; try again after ``open_seconds``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(default=5, ge=1, le=100)
    open_seconds: float = Field(default=30.0, gt=0, le=3600)


class ActionDefinition(BaseModel):
    """An HTTP call to ``BOT_ACTIONS_BASE_URL`` + ``path`` and the replies made from its answer.

    The request body is ``body`` (a JSON object whose values name slots: ``{"number":
    "order_number"}``); ``reply`` is a template over the answer's JSON (``data``) and the slots;
    ``not_found`` answers a 404 (a lookup that matched nothing); ``fallback`` follows the
    intent's canned reply when the call failed (timeout, 5xx, bad JSON, open circuit).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=100)
    method: Method = Method.GET
    path: str = Field(min_length=1, max_length=500, pattern=r"^/")
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, str] = Field(default_factory=dict)
    sign: str | None = None
    timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    retries: int = Field(default=1, ge=0, le=3)
    # A POST that only reads (a lookup) may be retried too; methods that are idempotent by
    # definition always may.
    idempotent: bool = False
    breaker: Breaker = Field(default_factory=Breaker)
    slots: list[Slot] = Field(default_factory=list, max_length=10)
    # Keys the answer's JSON object must have; an answer without them is treated as malformed.
    expects: list[str] = Field(default_factory=list, max_length=50)
    reply: str = Field(min_length=1, max_length=4000)
    not_found: str = Field(default=DEFAULT_NOT_FOUND, min_length=1, max_length=2000)
    fallback: str = Field(default=DEFAULT_FALLBACK, min_length=1, max_length=2000)
    too_many_failures: str = Field(default=DEFAULT_TOO_MANY, min_length=1, max_length=2000)
    # Sample slot values for the console's Test button (never personal data of real customers).
    sample: dict[str, str] = Field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        return self.idempotent or self.method in IDEMPOTENT_METHODS

    def slot(self, name: str) -> Slot | None:
        return next((slot for slot in self.slots if slot.name == name), None)


def definition_problems(name: str, data: Any) -> list[str]:
    """Every problem of one definition (``data`` as read from YAML or JSON), one line each."""
    problems: list[str] = []
    if not ACTION_NAME.match(name):
        problems.append(
            f"action {name!r}: a name has 2-63 characters: a-z, 0-9 and '_', starting with a letter"
        )
    try:
        action = ActionDefinition.model_validate(data)
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "definition"
            problems.append(f"action {name!r}: {where}: {item['msg']}")
        return problems
    return problems + [f"action {name!r}: {problem}" for problem in _reference_problems(action)]


def _reference_problems(action: ActionDefinition) -> list[str]:
    problems: list[str] = []
    slot_names = [slot.name for slot in action.slots]
    if len(set(slot_names)) != len(slot_names):
        problems.append("slots: two slots have the same name")
    for placeholder in PATH_PLACEHOLDER.findall(action.path):
        if placeholder not in slot_names:
            problems.append(
                f"path: {{{placeholder}}} is not a slot (slots: {', '.join(slot_names) or 'none'})"
            )
    for field, slot_name in action.body.items():
        if slot_name not in slot_names:
            problems.append(f"body: {field!r} names {slot_name!r}, which is not a slot")
    for header, value in action.headers.items():
        for secret in SECRET_REFERENCE.findall(value):
            if not SECRET_NAME.match(secret):
                problems.append(f"headers: {header}: ${{{secret}}} is not a secret name (A-Z, 0-9, '_')")
    if action.sign is not None and not SECRET_NAME.match(action.sign):
        problems.append(f"sign: {action.sign!r} is not a secret name (A-Z, 0-9, '_')")
    for sample in action.sample:
        if sample not in slot_names:
            problems.append(f"sample: {sample!r} is not a slot")
    for field in ("reply", "not_found", "fallback", "too_many_failures"):
        problems += [f"{field}: {problem}" for problem in template_problems(getattr(action, field))]
    return problems


def parse_definitions(raw: Any, source: str = ACTIONS_FILE) -> tuple[dict[str, ActionDefinition], list[str]]:
    """Definitions by name and every problem (``source``: prefix of each problem line)."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [f"{source}: expected a mapping of action names to definitions"]
    actions: dict[str, ActionDefinition] = {}
    problems: list[str] = []
    for name, data in raw.items():
        found = definition_problems(str(name), data)
        if found:
            problems += [f"{source}: {problem}" for problem in found]
        else:
            actions[str(name)] = ActionDefinition.model_validate(data)
    return actions, problems


def read_actions_file(path: Path) -> tuple[dict[str, ActionDefinition], list[str]]:
    """``data/actions.yml``; a folder without one has no actions."""
    if not path.is_file():
        return {}, []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return {}, [f"{ACTIONS_FILE}: not valid YAML: {' '.join(str(error).split())}"]
    return parse_definitions(raw)


def definition_data(action: ActionDefinition) -> dict[str, Any]:
    """The definition as plain JSON data, as it is stored and exported."""
    return action.model_dump(mode="json")
