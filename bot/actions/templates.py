"""Replies made from a backend's JSON answer: Jinja2's sandbox, narrowed to plain data.

The template sees only what ``plain_data`` lets through (dicts, lists, strings, numbers,
booleans, None) and may read keys and indexes of it, never an attribute and never a method:
``{{ data.status }}`` is ``data["status"]``, while ``{{ ''.__class__ }}`` or
``{{ data.items() }}`` fail, and a failed render is the action's fallback, never a traceback.
Autoescape is off because the output is plain text: the widget and console show it with
``textContent``, so markup in an answer is shown as the characters it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

MAX_OUTPUT_CHARS = 4000
MAX_DEPTH = 20


class PlainDataEnvironment(SandboxedEnvironment):
    """Item lookup only: ``a.b`` and ``a['b']`` read dict keys and list indexes, nothing else."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def is_safe_callable(self, obj: Any) -> bool:
        return False

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping) and isinstance(argument, str) and argument in obj:
            return obj[argument]
        if isinstance(obj, list) and isinstance(argument, int) and -len(obj) <= argument < len(obj):
            return obj[argument]
        return self.undefined(obj=obj, name=argument)


_ENVIRONMENT = PlainDataEnvironment(autoescape=False, undefined=Undefined)


class TemplateFailed(Exception):
    """The template could not be rendered with this data (its text says why)."""


def plain_data(value: Any, depth: int = 0) -> Any:
    """``value`` reduced to JSON's types; anything else becomes its text."""
    if depth > MAX_DEPTH:
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_data(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(item, depth + 1) for item in value]
    return str(value)


@lru_cache(maxsize=256)
def _compiled(template: str) -> Template:
    """Compiling costs milliseconds; each reply template is compiled once per process."""
    return _ENVIRONMENT.from_string(template)


def render(template: str, context: Mapping[str, Any]) -> str:
    """``template`` filled from ``context`` (made plain first); raises TemplateFailed."""
    try:
        text = _compiled(template).render(plain_data(dict(context)))
    except (TemplateError, ArithmeticError, TypeError, ValueError, RecursionError) as error:
        raise TemplateFailed(f"{type(error).__name__}: {error}") from None
    text = text.strip()
    if not text:
        raise TemplateFailed("the template gave an empty reply")
    return text[:MAX_OUTPUT_CHARS]


def template_problems(template: str) -> list[str]:
    """Syntax errors, found when the content is saved rather than when a customer asks."""
    try:
        _ENVIRONMENT.parse(template)
    except TemplateError as error:
        return [f"template error: {error}"]
    return []
