"""Promotion, rollback, shadow mode and the gate, on real adapters and a real database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.intents import registry
from bot.learning.retrain import GateRefused, promote


def sync(factory: sessionmaker[Session], settings: Settings) -> None:
    registry.sync_from_disk(factory, settings.adapter_dir, "default", "v1")


def test_first_start_puts_the_configured_version_in_production(
    factory: sessionmaker[Session], loop_settings: Settings
) -> None:
    sync(factory, loop_settings)
    states = {row.id: row.state for row in registry.all_versions(factory)}
    assert states == {"default/v1": "production", "default/v2": "candidate", "default/v3": "candidate"}
    assert registry.events(factory)[0].actor == "system"


def test_gate_refuses_a_worse_candidate(factory: sessionmaker[Session], loop_settings: Settings) -> None:
    sync(factory, loop_settings)
    with pytest.raises(GateRefused) as refused:
        promote(factory, loop_settings, "default/v2", actor="ops", reason="")
    report = refused.value.result.report
    assert report["held_out"]["candidate_accuracy"] < report["held_out"]["production_accuracy"]
    assert report["held_out"]["changes"]["broken"], "the report lists newly broken utterances"
    assert registry.production(factory).id == "default/v1"  # type: ignore[union-attr]


def test_force_promotes_and_records_who_and_why(
    factory: sessionmaker[Session], loop_settings: Settings
) -> None:
    sync(factory, loop_settings)
    result, _ = promote(
        factory, loop_settings, "default/v2", actor="ops", reason="hotfix for launch", force=True
    )
    assert not result.passed
    event = registry.events(factory, "default/v2")[-1]
    assert (event.action, event.actor, event.reason, event.forced) == (
        "promote",
        "ops",
        "hotfix for launch",
        True,
    )
    assert event.previous_id == "default/v1"
    assert registry.get(factory, "default/v1").state == "retired"


def test_force_without_a_reason_is_refused(factory: sessionmaker[Session], loop_settings: Settings) -> None:
    sync(factory, loop_settings)
    with pytest.raises(registry.RegistryError, match="reason"):
        promote(factory, loop_settings, "default/v2", actor="ops", reason=" ", force=True)


def test_equal_candidate_passes_and_rollback_restores_previous(
    factory: sessionmaker[Session], loop_settings: Settings
) -> None:
    sync(factory, loop_settings)
    result, _ = promote(factory, loop_settings, "default/v3", actor="ops", reason="")
    assert result.passed and result.report["reasons"] == []
    assert registry.production(factory).id == "default/v3"  # type: ignore[union-attr]
    back = registry.rollback(factory, actor="ops", reason="customers complained")
    assert back.id == "default/v1"
    assert registry.get(factory, "default/v3").state == "retired"
    assert registry.events(factory, "default/v1")[-1].action == "rollback"
    with pytest.raises(registry.RegistryError, match="no previous"):
        registry.rollback(factory, actor="ops", reason="again")


def test_tampered_candidate_is_never_promoted(
    factory: sessionmaker[Session], loop_settings: Settings
) -> None:
    sync(factory, loop_settings)
    labels = loop_settings.adapter_dir / "default" / "v3" / "labels.json"
    labels.write_text(json.dumps(list(reversed(json.loads(labels.read_text())))))
    with pytest.raises(registry.RegistryError, match="manifest"):
        promote(factory, loop_settings, "default/v3", actor="ops", reason="x", force=True)
    with pytest.raises(registry.RegistryError, match="manifest"):
        registry.promote(factory, "default/v3", actor="ops", reason="x")
    assert registry.production(factory).id == "default/v1"  # type: ignore[union-attr]


def test_only_one_candidate_shadows_at_a_time(
    factory: sessionmaker[Session], loop_settings: Settings
) -> None:
    sync(factory, loop_settings)
    registry.set_shadow(factory, "default/v2", True, actor="ops")
    registry.set_shadow(factory, "default/v3", True, actor="ops")
    assert registry.shadow_candidate(factory).id == "default/v3"  # type: ignore[union-attr]
    with pytest.raises(registry.RegistryError):
        registry.set_shadow(factory, "default/v1", True, actor="ops")
