"""Slot filling as a pure state machine: no model, no database, no HTTP."""

from __future__ import annotations

import pytest

from bot.actions.definitions import ActionDefinition
from bot.chat import forms
from bot.chat.forms import FormState, StepKind


def test_a_slot_in_the_first_message_is_taken_and_the_next_one_asked(order_status: ActionDefinition) -> None:
    step = forms.start("order_status", "track_order", order_status, "where is nw 10042?")
    assert step.kind is StepKind.ASK
    assert step.state is not None and step.state.slots == {"order_number": "NW-10042"}
    assert step.state.asking == "contact"
    assert "e-mail" in (step.text or "")


def test_both_slots_in_one_message_call_at_once(order_status: ActionDefinition) -> None:
    step = forms.start("order_status", "track_order", order_status, "Order NW-10042, jamie.fox@example.com")
    assert step.kind is StepKind.CALL
    assert step.state is not None
    assert step.state.slots == {"order_number": "NW-10042", "contact": "jamie.fox@example.com"}


def test_missing_slots_are_asked_one_at_a_time(order_status: ActionDefinition) -> None:
    step = forms.start("order_status", "track_order", order_status, "where is my order?")
    assert step.kind is StepKind.ASK and step.state is not None and step.state.asking == "order_number"
    step = forms.advance(step.state, order_status, "NW-10043", intent=None)
    assert step.kind is StepKind.ASK and step.state is not None and step.state.asking == "contact"
    step = forms.advance(step.state, order_status, "it's 10115", intent="greeting")
    assert step.kind is StepKind.CALL and step.state is not None
    assert step.state.slots == {"order_number": "NW-10043", "contact": "10115"}


def test_the_order_numbers_digits_are_never_taken_for_a_postcode(order_status: ActionDefinition) -> None:
    for text in ("where is NW-10042", "where is NW 10042", "where is nw10042"):
        step = forms.start("order_status", "track_order", order_status, text)
        assert step.state is not None and step.state.slots == {"order_number": "NW-10042"}, text


def test_a_wrong_format_is_asked_again_with_the_hint(order_status: ActionDefinition) -> None:
    state = FormState("order_status", "track_order", {}, "order_number")
    step = forms.advance(state, order_status, "12345678", intent=None)
    assert step.kind is StepKind.ASK
    assert step.text is not None and step.text.startswith(order_status.slots[0].hint)
    assert step.state is not None and step.state.wrong_answers == 1


def test_other_slots_count_only_beside_the_answer_asked_for(order_status: ActionDefinition) -> None:
    state = FormState("order_status", "track_order", {}, "order_number")
    step = forms.advance(state, order_status, "it's 4711", intent=None)
    assert step.kind is StepKind.ASK and step.state is not None and step.state.slots == {}
    step = forms.advance(state, order_status, "NW-10042, postcode 4711", intent=None)
    assert step.kind is StepKind.CALL and step.state is not None
    assert step.state.slots == {"order_number": "NW-10042", "contact": "4711"}


def test_three_wrong_answers_offer_a_person(order_status: ActionDefinition) -> None:
    state = FormState("order_status", "track_order", {}, "contact", wrong_answers=0)
    for _ in range(forms.MAX_WRONG_ANSWERS - 1):
        step = forms.advance(state, order_status, "no idea", intent=None)
        assert step.kind is StepKind.ASK and step.state is not None
        state = step.state
    assert forms.advance(state, order_status, "no idea", intent=None).kind is StepKind.GAVE_UP


@pytest.mark.parametrize("text", ["cancel", "Cancel!", "never mind", "stop"])
def test_cancel_closes_the_form(order_status: ActionDefinition, text: str) -> None:
    state = FormState("order_status", "track_order", {"order_number": "NW-10042"}, "contact")
    step = forms.advance(state, order_status, text, intent=None)
    assert step.kind is StepKind.CANCELLED and step.state is None


def test_a_confident_other_intent_leaves_the_form(order_status: ActionDefinition) -> None:
    state = FormState("order_status", "track_order", {}, "order_number")
    assert (
        forms.advance(state, order_status, "how do I return a jumper?", "return_item").kind is StepKind.LEFT
    )


def test_the_same_intent_again_asks_again_without_counting_it_wrong(order_status: ActionDefinition) -> None:
    state = FormState("order_status", "track_order", {}, "order_number")
    step = forms.advance(state, order_status, "where is my order", "track_order")
    assert step.kind is StepKind.ASK and step.state is not None and step.state.wrong_answers == 0
    assert step.text == f"{order_status.slots[0].hint} {order_status.slots[0].prompt}"


def test_a_valid_slot_wins_over_the_intent_the_model_guessed(order_status: ActionDefinition) -> None:
    state = FormState("order_status", "track_order", {}, "order_number")
    step = forms.advance(state, order_status, "NW-10050", "cancel_order")
    assert step.kind is StepKind.ASK and step.state is not None
    assert step.state.slots == {"order_number": "NW-10050"}


def test_staff_see_personal_slots_redacted(order_status: ActionDefinition) -> None:
    shown = forms.shown_slots(order_status, {"order_number": "NW-10042", "contact": "jamie.fox@example.com"})
    assert shown == {"order number": "NW-10042", "e-mail or postcode": "[EMAIL]"}
    assert forms.shown_slots(order_status, {"contact": "SW1A 1AA"}) == {"e-mail or postcode": "[REDACTED]"}
