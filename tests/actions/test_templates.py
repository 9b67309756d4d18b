"""The reply template sees plain data only: keys and indexes, never Python attributes."""

from __future__ import annotations

import pytest

from bot.actions.definitions import ActionDefinition
from bot.actions.templates import TemplateFailed, render, template_problems


def test_the_order_reply_is_made_from_the_answer(order_status: ActionDefinition) -> None:
    data = {"number": "NW-10042", "status": "shipped", "carrier": "DHL", "tracking": "JD0146"}
    assert render(order_status.reply, {"data": data, "slots": {}}) == (
        "Your order NW-10042 is on its way with DHL. Tracking number: JD0146."
    )


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ data.items() }}",
        "{{ data.keys }}",
        "{{ ''.join(['a']) }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ data.__class__.__name__ }}",
    ],
)
def test_python_attributes_are_out_of_reach(template: str) -> None:
    context = {"data": {"status": "shipped"}}
    try:
        text = render(template, context)
    except TemplateFailed:
        return
    # Anything rendered is empty or plain: no class, no function, no module leaked.
    assert "class" not in text and "function" not in text and "module" not in text and "<" not in text


def test_markup_in_an_answer_stays_text() -> None:
    assert render("{{ data.x }}", {"data": {"x": "<img src=x onerror=alert(1)>"}}) == (
        "<img src=x onerror=alert(1)>"
    )


def test_objects_in_the_context_become_text() -> None:
    class Secretive:
        token = "s3cret"

        def __str__(self) -> str:
            return "secretive"

    assert render("{{ data.token }}|{{ data }}", {"data": Secretive()}) == "|secretive"


def test_a_syntax_error_is_reported_when_saved() -> None:
    assert template_problems("{% if data.x %}unclosed") != []
    assert template_problems("{{ data.x }}") == []
    with pytest.raises(TemplateFailed):
        render("{{ 1 / 0 }}", {})
