"""Slot filling: collect the values an action needs, across turns, one question at a time.

A pure state machine (no I/O): ``start`` opens a form for an action with whatever slots the
first message already holds ("where is NW-10042?"); ``advance`` takes the next message. Missing
slots are asked for in the order the action lists them; an answer that holds no valid value is
asked again with the slot's hint; "cancel" (alone) closes the form; a confident other intent
leaves it, so the customer is never stuck in a questionnaire. The caller stores ``FormState``
with the turn and calls the action when a step says ``CALL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.actions.definitions import ActionDefinition, Slot
from bot.actions.slot_values import VALIDATORS

# Wrong answers to one question before the form gives up and offers a person.
MAX_WRONG_ANSWERS = 3
CANCEL_WORDS = {
    "cancel",
    "stop",
    "quit",
    "exit",
    "abort",
    "never mind",
    "nevermind",
    "forget it",
    "no thanks",
    "cancel that",
    "stop it",
}
CANCELLED_TEXT = "OK, I've stopped. What else can I help you with?"
GAVE_UP_TEXT = "Sorry, I still can't read that. Would you like me to connect you with a person who can help?"


class StepKind(StrEnum):
    ASK = "ask"  # a question for the next missing slot (or the same one again, with its hint)
    CALL = "call"  # every slot is filled: call the action
    CANCELLED = "cancelled"  # the customer said cancel
    LEFT = "left"  # another intent: answer it as if there were no form
    GAVE_UP = "gave_up"  # too many wrong answers: offer a person


@dataclass(frozen=True)
class FormState:
    """An open form: the action, the intent that opened it, the values so far, the question
    last asked and how many wrong answers it got."""

    action: str
    intent: str
    slots: dict[str, str] = field(default_factory=dict)
    asking: str | None = None
    wrong_answers: int = 0


@dataclass(frozen=True)
class FormStep:
    """``state``: what to store after this turn (None: no open form); ``text``: what to say
    (None for CALL and LEFT, whose reply comes from the action or the intent)."""

    kind: StepKind
    state: FormState | None
    text: str | None = None


def start(name: str, intent: str, action: ActionDefinition, text: str) -> FormStep:
    state = FormState(name, intent, extract_slots(action, text, {}, asking=None))
    return _next(state, action)


def advance(state: FormState, action: ActionDefinition, text: str, intent: str | None) -> FormStep:
    """The next step for the customer's ``text``; ``intent`` is the confidently recognised
    intent of that text (None when the model was unsure)."""
    if is_cancel(text):
        return FormStep(StepKind.CANCELLED, None, CANCELLED_TEXT)
    found = extract_slots(action, text, state.slots, state.asking)
    if state.asking is not None and state.asking not in found:
        # Values of other slots count only beside an answer to the question asked: "it's 4711"
        # asked for an order number is a wrong order number, not a postcode.
        found = {}
    if found:
        return _next(replace(state, slots={**state.slots, **found}, wrong_answers=0), action)
    if intent is not None and intent != state.intent:
        return FormStep(StepKind.LEFT, None)
    asked = action.slot(state.asking) if state.asking else None
    if asked is None:
        return _next(state, action)
    if intent == state.intent:
        # The model heard the form's own question again ("where is my order", or a number it
        # took for one): show what is wanted, without counting it as a wrong answer.
        return FormStep(StepKind.ASK, state, f"{asked.hint} {asked.prompt}")
    wrong = state.wrong_answers + 1
    if wrong >= MAX_WRONG_ANSWERS:
        return FormStep(StepKind.GAVE_UP, None, GAVE_UP_TEXT)
    return FormStep(StepKind.ASK, replace(state, wrong_answers=wrong), f"{asked.hint} {asked.prompt}")


def _next(state: FormState, action: ActionDefinition) -> FormStep:
    missing = missing_slots(action, state.slots)
    if not missing:
        return FormStep(StepKind.CALL, replace(state, asking=None, wrong_answers=0))
    slot = missing[0]
    return FormStep(StepKind.ASK, replace(state, asking=slot.name), slot.prompt)


def missing_slots(action: ActionDefinition, slots: dict[str, str]) -> list[Slot]:
    return [slot for slot in action.slots if slot.name not in slots]


def extract_slots(
    action: ActionDefinition, text: str, filled: dict[str, str], asking: str | None
) -> dict[str, str]:
    """Valid values in ``text`` for the slots not yet filled. Slots claim their matches in the
    order the action lists them, and a later slot never takes characters an earlier one
    matched (the digits of "NW 10042" are not also a postcode). The slot being asked for also
    takes the whole message as its value ("SW1A 1AA") when nothing in it matched."""
    found: dict[str, str] = {}
    taken: list[tuple[int, int]] = []
    for slot in action.slots:
        match = _first_free_match(slot, text, taken)
        if match is not None:
            taken.append(match[0])
        if slot.name in filled:
            continue
        if match is not None:
            found[slot.name] = match[1]
        elif slot.name == asking:
            value = VALIDATORS[slot.validator](text)
            if value is not None:
                found[slot.name] = value
    return found


def _first_free_match(
    slot: Slot, text: str, taken: list[tuple[int, int]]
) -> tuple[tuple[int, int], str] | None:
    validate = VALIDATORS[slot.validator]
    for match in re.finditer(slot.pattern, text, flags=re.IGNORECASE):
        start, end = match.span()
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        value = validate(match.group(0))
        if value is not None:
            return (start, end), value
    return None


def slot_value(slot: Slot, text: str, whole_message: bool = False) -> str | None:
    """The first valid value of ``slot`` in ``text`` on its own (or the whole text's)."""
    match = _first_free_match(slot, text, [])
    if match is not None:
        return match[1]
    return VALIDATORS[slot.validator](text) if whole_message else None


def is_cancel(text: str) -> bool:
    words = " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())
    return words in CANCEL_WORDS


def shown_slots(action: ActionDefinition, slots: dict[str, str]) -> dict[str, str]:
    """The filled slots as staff see them: personal values replaced by what kind they are."""
    shown = {}
    for slot in action.slots:
        if slot.name in slots:
            shown[slot.shown_name] = redacted_value(slots[slot.name]) if slot.personal else slots[slot.name]
    return shown


def redacted_value(value: str) -> str:
    return "[EMAIL]" if "@" in value else "[REDACTED]"
