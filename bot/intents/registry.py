"""The adapter registry: which versions exist, which one serves, and the history of changes.

Version folders on disk are the artefacts; the database says what state each is in. A
promotion or rollback is one transaction, so exactly one version is ever in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import AdapterEvent, AdapterTrainingTurn, AdapterVersion
from bot.errors import Conflict, NotFound
from bot.intents import store

CANDIDATE, PRODUCTION, RETIRED = "candidate", "production", "retired"
# The kinds of adapter: each has at most one version in production.
INTENT, RETRIEVER = "intent", "retriever"


class RegistryError(Conflict):
    """A registry request that the registry's state does not allow; the message says why."""

    def __init__(self, detail: str, code: str = "registry_conflict") -> None:
        super().__init__(code, detail)


class UnknownAdapter(RegistryError):
    http_status = NotFound.http_status

    def __init__(self, adapter_id: str) -> None:
        super().__init__(f"unknown adapter version {adapter_id!r}", "unknown_adapter")


def register(
    factory: sessionmaker[Session],
    ref: store.AdapterRef,
    state: str = CANDIDATE,
    *,
    trained_on: Sequence[int] = (),
    warm_started_from: str | None = None,
    kind: str = INTENT,
) -> AdapterVersion:
    """Record a version folder (idempotent); reads its parent, data hash and metrics from disk.

    ``trained_on``: the message ids of the logged turns in its round data. A version
    warm-started from another carries that one's weights, so it inherits its turns and its
    count of erased turns too.
    """
    training = store.read_json(ref.path / "training.json")
    metrics_path = ref.path / "metrics.json"
    with factory() as session:
        existing = session.get(AdapterVersion, ref.id)
        if existing is not None:
            # The server may have found the folder on disk first; the turns are still recorded.
            _record_turns(session, ref.id, trained_on, warm_started_from)
            session.commit()
            return existing
        row = AdapterVersion(
            id=ref.id,
            name=ref.name,
            version=ref.version,
            path=str(ref.path),
            state=state,
            kind=kind,
            parent=training.get("parent"),
            data_hash=training.get("data_hash"),
            metrics=store.read_json(metrics_path) if metrics_path.is_file() else {},
            erased_turns=0,
        )
        session.add(row)
        session.flush()
        _record_turns(session, ref.id, trained_on, warm_started_from)
        session.commit()
        return row


def _record_turns(
    session: Session, adapter_id: str, trained_on: Sequence[int], warm_started_from: str | None
) -> None:
    turns = set(trained_on)
    if warm_started_from is not None:
        turns |= _turns_of(session, warm_started_from)
        source = session.get(AdapterVersion, warm_started_from)
        target = session.get(AdapterVersion, adapter_id)
        if source is not None and target is not None and source.erased_turns:
            target.erased_turns = max(target.erased_turns, source.erased_turns)
            target.erased_at = target.erased_at or source.erased_at
    new = sorted(turns - _turns_of(session, adapter_id))
    session.add_all(AdapterTrainingTurn(adapter_id=adapter_id, message_id=m) for m in new)


def _turns_of(session: Session, adapter_id: str) -> set[int]:
    query = select(AdapterTrainingTurn.message_id).where(AdapterTrainingTurn.adapter_id == adapter_id)
    return set(session.scalars(query))


def trained_on(factory: sessionmaker[Session], adapter_id: str) -> list[int]:
    """The message ids of the logged turns a version learnt from (erased ones are gone)."""
    with factory() as session:
        return sorted(_turns_of(session, adapter_id))


def sync_from_disk(
    factory: sessionmaker[Session], adapter_dir: Path, name: str, initial_version: str | None
) -> AdapterVersion:
    """Register every version folder of ``name``; with no production yet, promote the initial one.

    Returns the production version.
    """
    for ref in store.list_versions(adapter_dir, name):
        register(factory, ref)
    current = production(factory)
    if current is not None:
        return current
    initial = store.resolve(adapter_dir, name, initial_version)
    return promote(factory, initial.id, actor="system", reason="first start: initial adapter")


def production(factory: sessionmaker[Session], kind: str = INTENT) -> AdapterVersion | None:
    with factory() as session:
        return session.scalar(
            select(AdapterVersion).where(AdapterVersion.state == PRODUCTION, AdapterVersion.kind == kind)
        )


def shadow_candidate(factory: sessionmaker[Session]) -> AdapterVersion | None:
    with factory() as session:
        return session.scalar(
            select(AdapterVersion)
            .where(AdapterVersion.shadow.is_(True), AdapterVersion.kind == INTENT)
            .order_by(AdapterVersion.id)
        )


def sync_retrievers_from_disk(
    factory: sessionmaker[Session], adapter_dir: Path, name: str, promoted_on_disk: store.AdapterRef | None
) -> AdapterVersion | None:
    """Register every retriever version folder; with no retriever in production yet, promote the
    one the folder's ``production`` file names (a first start). Returns the production version,
    None while the base encoder serves."""
    for ref in store.list_versions(adapter_dir, name):
        register(factory, ref, kind=RETRIEVER)
    current = production(factory, RETRIEVER)
    if current is not None or promoted_on_disk is None:
        return current
    return promote(factory, promoted_on_disk.id, actor="system", reason="first start: promoted on disk")


def get(factory: sessionmaker[Session], adapter_id: str) -> AdapterVersion:
    with factory() as session:
        row = session.get(AdapterVersion, adapter_id)
        if row is None:
            raise UnknownAdapter(adapter_id)
        return row


def all_versions(factory: sessionmaker[Session]) -> list[AdapterVersion]:
    with factory() as session:
        return list(session.scalars(select(AdapterVersion).order_by(AdapterVersion.created_at)))


def events(factory: sessionmaker[Session], adapter_id: str | None = None) -> list[AdapterEvent]:
    with factory() as session:
        query = select(AdapterEvent).order_by(AdapterEvent.id)
        if adapter_id is not None:
            query = query.where(AdapterEvent.adapter_id == adapter_id)
        return list(session.scalars(query))


def version_record(row: AdapterVersion) -> dict[str, Any]:
    """A version as JSON for the CLI and the API."""
    return {
        "id": row.id,
        "kind": row.kind,
        "state": row.state,
        "shadow": row.shadow,
        "parent": row.parent,
        "data_hash": row.data_hash,
        "accuracy": (row.metrics or {}).get("accuracy"),
        "macro_f1": (row.metrics or {}).get("macro_f1"),
        "created_at": row.created_at.isoformat(),
        "path": row.path,
        # Customer turns this version learnt from that have since been erased: retrain to drop them.
        "erased_turns": row.erased_turns,
        "erased_at": row.erased_at.isoformat() if row.erased_at else None,
    }


def event_record(event: AdapterEvent) -> dict[str, Any]:
    return {
        "action": event.action,
        "actor": event.actor,
        "reason": event.reason,
        "forced": event.forced,
        "previous": event.previous_id,
        "at": event.created_at.isoformat(),
        "report": event.report,
    }


def ref_of(row: AdapterVersion) -> store.AdapterRef:
    return store.AdapterRef(row.name, row.version, Path(row.path))


def promote(
    factory: sessionmaker[Session],
    adapter_id: str,
    *,
    actor: str,
    reason: str,
    forced: bool = False,
    report: dict[str, Any] | None = None,
    action: str = "promote",
) -> AdapterVersion:
    """Make ``adapter_id`` the production version; the previous one is retired."""
    with factory() as session, session.begin():
        target = session.get(AdapterVersion, adapter_id, with_for_update=True)
        if target is None:
            raise UnknownAdapter(adapter_id)
        if target.state == PRODUCTION:
            raise RegistryError(f"{adapter_id} is already in production")
        # Refuse a version whose files were changed after training, before anything is written.
        try:
            store.verify(ref_of(target))
        except store.AdapterError as error:
            raise RegistryError(str(error)) from error
        previous = session.scalar(
            select(AdapterVersion)
            .where(AdapterVersion.state == PRODUCTION, AdapterVersion.kind == target.kind)
            .with_for_update()
        )
        if previous is not None:
            previous.state = RETIRED
        target.state = PRODUCTION
        target.shadow = False
        session.add(
            AdapterEvent(
                adapter_id=target.id,
                action=action,
                previous_id=previous.id if previous else None,
                actor=actor,
                reason=reason,
                forced=forced,
                report=report or {},
            )
        )
    return get(factory, adapter_id)


def rollback(factory: sessionmaker[Session], *, actor: str, reason: str) -> AdapterVersion:
    """Return to the version that was in production before the current one."""
    current = production(factory)
    if current is None:
        raise RegistryError("nothing is in production")
    # Only real promotions count: rolling back twice walks further back instead of toggling.
    history = [e for e in events(factory, current.id) if e.action == "promote"]
    previous_id = history[-1].previous_id if history else None
    if previous_id is None:
        raise RegistryError(f"{current.id} has no previous production version to roll back to")
    return promote(factory, previous_id, actor=actor, reason=reason, action="rollback")


def set_shadow(factory: sessionmaker[Session], adapter_id: str, on: bool, *, actor: str) -> AdapterVersion:
    """Put one candidate in shadow mode (any other shadow is switched off), or take it out."""
    with factory() as session, session.begin():
        target = session.get(AdapterVersion, adapter_id)
        if target is None:
            raise UnknownAdapter(adapter_id)
        if on and target.state == PRODUCTION:
            raise RegistryError(f"{adapter_id} is in production; only a candidate can shadow it")
        if on and target.kind != INTENT:
            # A shadow predicts intents beside production; a retriever has no intents to log.
            raise RegistryError(f"{adapter_id} is a retriever adapter; only intent adapters can shadow")
        if on:
            for other in session.scalars(select(AdapterVersion).where(AdapterVersion.shadow.is_(True))):
                other.shadow = False
        target.shadow = on
        session.add(
            AdapterEvent(
                adapter_id=adapter_id,
                action="shadow_on" if on else "shadow_off",
                actor=actor,
                reason="",
            )
        )
    return get(factory, adapter_id)


def discard(factory: sessionmaker[Session], adapter_id: str, *, actor: str, reason: str) -> AdapterVersion:
    """Retire a candidate that will not be served: out of shadow mode, never promoted by mistake.

    Its files stay in the adapter store, and the event says who decided and why."""
    get(factory, adapter_id)  # an unknown version is refused the registry's usual way
    with factory() as session, session.begin():
        target = session.get(AdapterVersion, adapter_id, with_for_update=True)
        assert target is not None
        if target.state != CANDIDATE:
            raise RegistryError(f"{adapter_id} is {target.state}; only a candidate can be discarded")
        target.state = RETIRED
        target.shadow = False
        session.add(AdapterEvent(adapter_id=adapter_id, action="discard", actor=actor, reason=reason))
    return get(factory, adapter_id)
