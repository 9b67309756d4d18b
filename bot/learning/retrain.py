"""One round of the loop: reviewed logs -> dataset -> candidate adapter -> gate report -> promotion."""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.errors import Conflict
from bot.intents import registry, store
from bot.intents.classifier import IntentClassifier, load_classifier
from bot.intents.dataset import load_dataset
from bot.intents.train import ProgressCallback, StepCallback, TrainingConfig
from bot.intents.training_run import train_and_save
from bot.learning.gate import GateResult, GateSettings, run_gate
from bot.learning.proposals import approved_intents
from bot.learning.round_data import RoundData, build_round, staff_labelled_turns


class GateRefused(Conflict):
    def __init__(self, result: GateResult) -> None:
        super().__init__("gate_refused", "; ".join(result.reasons))
        self.result = result


@dataclass(frozen=True)
class RetrainResult:
    ref: store.AdapterRef
    round: RoundData
    metrics: dict[str, Any]
    gate: GateResult | None


def current_round(factory: sessionmaker[Session], settings: Settings, out_dir: Path) -> RoundData:
    return build_round(settings.data_dir, staff_labelled_turns(factory), approved_intents(factory), out_dir)


def retrain(
    factory: sessionmaker[Session],
    settings: Settings,
    config: TrainingConfig | None = None,
    warm_start: bool | None = None,
    progress: ProgressCallback | None = None,
    *,
    on_phase: ProgressCallback | None = None,
    on_step: StepCallback | None = None,
    data_dir: Path | None = None,
) -> RetrainResult:
    """``on_phase`` hears "building data", "training" and "gating" as each begins, ``on_step``
    every optimiser step; either may raise to stop the round. ``data_dir`` is where the round's
    data is written (default: a new folder under the state directory)."""
    say = progress or (lambda _message: None)
    phase = on_phase or (lambda _name: None)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    phase("building data")
    data = current_round(factory, settings, data_dir or settings.state_dir / "rounds" / stamp)
    say(
        f"round data in {data.directory}: {len(data.train)} training, {len(data.held_out)} held-out, "
        f"{len(data.replay)} staff-labelled turns "
        f"({data.skipped_unapproved} with unapproved intents left out)"
    )
    production = registry.production(factory)
    use_warm_start = settings.retrain_warm_start if warm_start is None else warm_start
    warm_path = Path(production.path) if use_warm_start and production is not None else None
    phase("training")
    ref, metrics = train_and_save(
        load_dataset(data.directory),
        settings.base_model,
        settings.adapter_dir,
        settings.adapter_name,
        config,
        parent=production.id if production is not None else None,
        progress=say,
        warm_start=warm_path,
        on_step=on_step,
    )
    registry.register(
        factory,
        ref,
        trained_on=data.message_ids,
        warm_started_from=production.id if warm_path is not None and production is not None else None,
    )
    phase("gating")
    gate = gate_for(factory, settings, ref.id, data) if production is not None else None
    return RetrainResult(ref, data, metrics, gate)


def gate_for(
    factory: sessionmaker[Session],
    settings: Settings,
    candidate_id: str,
    data: RoundData | None = None,
) -> GateResult:
    """Compare a candidate with production on the fixed held-out split and the labelled replay."""
    production = registry.production(factory)
    if production is None:
        raise registry.RegistryError("nothing is in production to compare against")
    candidate = registry.get(factory, candidate_id)
    if data is None:
        # The round's examples are kept in memory; its files are only needed while it is built.
        with tempfile.TemporaryDirectory(prefix="gate-") as scratch:
            data = current_round(factory, settings, Path(scratch))
    candidate_classifier = _load_verified(registry.ref_of(candidate), settings.device)
    production_classifier = _load_verified(registry.ref_of(production), settings.device)
    return run_gate(
        candidate_classifier,
        production_classifier,
        data.held_out,
        data.replay,
        GateSettings.from_settings(settings),
    )


# A gate compares two versions; a server that promotes many times must not keep every version
# it ever compared (about 90 MB each), so only the two most recently used stay loaded.
CLASSIFIER_CACHE_SIZE = 2
_loaded: OrderedDict[tuple[str, str], IntentClassifier] = OrderedDict()
_loaded_lock = threading.Lock()


def _load_verified(ref: store.AdapterRef, device: str) -> IntentClassifier:
    """Load each distinct set of adapter files once while it stays among the last two used.

    The files are verified against the manifest on every call, and the manifest (every file's
    SHA-256) is the cache key, so a changed version is never served from the cache.
    """
    store.verify(ref)
    key = ((ref.path / store.MANIFEST).read_text(encoding="utf-8"), device)
    with _loaded_lock:
        if key in _loaded:
            _loaded.move_to_end(key)
        else:
            _loaded[key] = load_classifier(ref, device)
            while len(_loaded) > CLASSIFIER_CACHE_SIZE:
                _loaded.popitem(last=False)
        cached = _loaded[key]
    return IntentClassifier(
        cached.network, cached.tokenizer, cached.labels, cached.calibration, ref.id, cached.device
    )


def cached_classifiers() -> int:
    """How many adapter versions the gate keeps loaded (at most ``CLASSIFIER_CACHE_SIZE``)."""
    with _loaded_lock:
        return len(_loaded)


def promote(
    factory: sessionmaker[Session],
    settings: Settings,
    candidate_id: str,
    *,
    actor: str,
    reason: str,
    force: bool = False,
) -> tuple[GateResult, str]:
    """Promote after the gate passes, or despite it with ``force`` (recorded with the reason)."""
    row = registry.get(factory, candidate_id)
    if row.state == registry.PRODUCTION:
        raise registry.RegistryError(f"{candidate_id} is already in production")
    try:
        store.verify(registry.ref_of(row))
    except store.AdapterError as error:
        raise registry.RegistryError(str(error)) from error
    result = gate_for(factory, settings, candidate_id)
    if not result.passed and not force:
        raise GateRefused(result)
    if force and not reason.strip():
        raise registry.RegistryError("--force needs a --reason")
    registry.promote(
        factory,
        candidate_id,
        actor=actor,
        reason=reason or "gate passed",
        forced=force and not result.passed,
        report=result.report,
    )
    return result, candidate_id
