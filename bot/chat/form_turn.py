"""A turn with business actions: the form's step between the model's reply and the stored one.

``FormRunner.step`` takes the reply the policy decided and the conversation's open form (or
None) and returns the reply to send and the form to store with it. It opens a form when the
answered intent names an action, fills slots from the message, asks for what is missing, and
calls the backend once every slot is there. The call is awaited on the event loop (httpx), so
a slow backend delays only the conversation that waits for it: the micro-batcher and the other
customers' turns go on. Whatever the backend does, the customer gets a reply: the answer, a
"not found" that never says which factor was wrong, or the intent's canned reply with the
offer of a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.actions.definitions import ActionDefinition
from bot.actions.http_call import ActionCaller, CallResult, Outcome
from bot.actions.lookup_limits import FailedLookups
from bot.actions.templates import TemplateFailed, render
from bot.chat import forms
from bot.chat.forms import FormState, FormStep, StepKind
from bot.chat.policy import HUMAN_INTENT, Reply, Suggestion
from bot.chat.responses import ResponseBook

log = logging.getLogger(__name__)
# Replies the policy made for a confidently recognised intent.
CONFIDENT_ACTIONS = ("answer", "handoff")


@dataclass(frozen=True)
class FormTurn:
    """``reply`` to send; ``state`` to store (None: no open form); ``changed``: whether the
    stored form must be written at all (most turns of most conversations have none)."""

    reply: Reply
    state: FormState | None
    changed: bool


class FormRunner:
    def __init__(self, caller: ActionCaller, lookups: FailedLookups) -> None:
        self.caller = caller
        self.lookups = lookups

    async def step(
        self,
        conversation_id: str,
        text: str,
        reply: Reply,
        responses: ResponseBook,
        state: FormState | None,
        address: str | None = None,
    ) -> FormTurn:
        """The reply for a customer ``text`` that the policy answered with ``reply``."""
        turn = await self._step(conversation_id, text, reply, responses, state, address)
        # Nothing to write when there was no form and there is none now (a one-message lookup).
        return FormTurn(turn.reply, turn.state, changed=state is not None or turn.state is not None)

    async def _step(
        self,
        conversation_id: str,
        text: str,
        reply: Reply,
        responses: ResponseBook,
        state: FormState | None,
        address: str | None,
    ) -> FormTurn:
        if state is not None:
            action = responses.actions.get(state.action)
            if action is not None:
                confident = reply.intent if reply.action in CONFIDENT_ACTIONS else None
                step = forms.advance(state, action, text, confident)
                if step.kind is not StepKind.LEFT:
                    return await self._apply(
                        step, state.action, action, reply, responses, conversation_id, address
                    )
        opened = await self._open(conversation_id, text, reply, responses, address)
        if opened is not None:
            return opened
        return FormTurn(reply, None, changed=state is not None)

    async def _open(
        self, conversation_id: str, text: str, reply: Reply, responses: ResponseBook, address: str | None
    ) -> FormTurn | None:
        if reply.action not in ("answer", "clarify") or reply.intent is None:
            return None
        response = responses.get(reply.intent)
        name = response.action if response is not None else None
        action = responses.actions.get(name) if name is not None else None
        if name is None or action is None:
            return None
        if reply.action == "clarify" and not forms.extract_slots(action, text, {}, asking=None):
            # Unsure of the intent, the model's best guess opens the form only when the message
            # also holds one of its slots ("NW-10042 ???"); otherwise the customer picks.
            return None
        step = forms.start(name, reply.intent, action, text)
        return await self._apply(step, name, action, reply, responses, conversation_id, address)

    async def _apply(
        self,
        step: FormStep,
        name: str,
        action: ActionDefinition,
        reply: Reply,
        responses: ResponseBook,
        conversation_id: str,
        address: str | None,
    ) -> FormTurn:
        state = step.state
        if step.kind is StepKind.CALL and state is not None:
            return await self._call(name, action, state, reply, responses, conversation_id, address)
        slots = state.slots if state is not None else {}
        record = form_record(name, action, step.kind, slots, state.asking if state else None)
        if step.kind is StepKind.GAVE_UP:
            return FormTurn(offer_person(step.text or "", reply, responses, record), None, changed=True)
        intent = state.intent if state is not None else reply.intent
        text = step.text or ""
        return FormTurn(Reply(text, "answer", intent, reply.confidence, form=record), state, changed=True)

    async def _call(
        self,
        name: str,
        action: ActionDefinition,
        state: FormState,
        reply: Reply,
        responses: ResponseBook,
        conversation_id: str,
        address: str | None,
    ) -> FormTurn:
        if not await self.lookups.allowed(conversation_id, address):
            log.warning("action %s: failed-lookup limit reached for a conversation or address", name)
            record = form_record(name, action, StepKind.CALL, state.slots, None, outcome="too_many_failures")
            return FormTurn(offer_person(action.too_many_failures, reply, responses, record), None, True)
        result = await self.caller.call(name, action, state.slots)
        record = form_record(name, action, StepKind.CALL, state.slots, None, result=result)
        if result.outcome is Outcome.NOT_FOUND:
            await self.lookups.record_miss(conversation_id, address)
            # Ask again from the first slot: "not found" never says which factor was wrong.
            again = forms.FormState(name, state.intent, {}, action.slots[0].name if action.slots else None)
            text = _render_or(action.not_found, {"slots": state.slots}, action.fallback)
            return FormTurn(Reply(text, "answer", state.intent, reply.confidence, form=record), again, True)
        if result.outcome is Outcome.OK and result.data is not None:
            missing = [key for key in action.expects if key not in result.data]
            if not missing:
                try:
                    text = render(action.reply, {"data": result.data, "slots": state.slots})
                    return FormTurn(
                        Reply(text, "answer", state.intent, reply.confidence, form=record), None, True
                    )
                except TemplateFailed as failed:
                    log.warning("action %s: reply template failed: %s", name, failed)
                    record = {**record, "outcome": "template_failed"}
            else:
                log.warning("action %s: answer lacks %s", name, ", ".join(missing))
                record = {**record, "outcome": "malformed"}
        canned = responses.reply(state.intent)
        text = f"{canned}\n\n{action.fallback}" if canned else action.fallback
        return FormTurn(offer_person(text, reply, responses, record, state.intent), None, True)


def offer_person(
    text: str, reply: Reply, responses: ResponseBook, record: dict[str, Any], intent: str | None = None
) -> Reply:
    """``text`` with the button that hands the chat to a person."""
    button = Suggestion(responses.title(HUMAN_INTENT), HUMAN_INTENT)
    return Reply(text, "offer_human", intent, reply.confidence if intent else None, [button], form=record)


def form_record(
    name: str,
    action: ActionDefinition,
    kind: StepKind,
    slots: dict[str, str],
    asking: str | None,
    result: CallResult | None = None,
    outcome: str | None = None,
) -> dict[str, Any]:
    """What the reply's payload says about the form: staff see it in the transcript."""
    record: dict[str, Any] = {"action": name, "step": str(kind), "slots": forms.shown_slots(action, slots)}
    asked = action.slot(asking) if asking else None
    if asked is not None:
        record["asking"] = asked.shown_name
    if result is not None:
        record["outcome"] = str(result.outcome)
        record["latency_ms"] = round(result.latency_ms, 1)
        record["attempts"] = result.attempts
        if result.status is not None:
            record["status"] = result.status
    if outcome is not None:
        record["outcome"] = outcome
    return record


def _render_or(template: str, context: dict[str, Any], default: str) -> str:
    try:
        return render(template, context)
    except TemplateFailed:
        return default
