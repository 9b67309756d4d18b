"""Adapter stores for the learning-loop tests: the shipped adapter, a copy of it, a weak one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config import PROJECT_ROOT, Settings
from bot.db.migrate import upgrade
from bot.db.session import create_db_engine, create_session_factory
from bot.intents.dataset import Example, load_dataset, read_examples, write_examples
from bot.intents.train import TrainingConfig
from bot.intents.training_run import train_and_save

SHIPPED = PROJECT_ROOT / "adapters" / "default" / "v1"


@pytest.fixture(scope="session")
def weak_adapter(tmp_path_factory: pytest.TempPathFactory, base_settings: Settings) -> Path:
    """An adapter trained on two examples per intent for one epoch: clearly worse than v1."""
    data = tmp_path_factory.mktemp("weak-data")
    seen: dict[str, int] = {}
    few: list[Example] = []
    for example in read_examples(PROJECT_ROOT / "data" / "train.csv"):
        if seen.get(example.intent, 0) < 3:
            seen[example.intent] = seen.get(example.intent, 0) + 1
            few.append(example)
    write_examples(data / "train.csv", few)
    store_dir = tmp_path_factory.mktemp("weak-store")
    ref, _ = train_and_save(
        load_dataset(data),
        base_settings.base_model,
        store_dir,
        "weak",
        TrainingConfig(epochs=1, batch_size=16, learning_rate=1e-5, head_learning_rate=1e-5),
    )
    return ref.path


@pytest.fixture
def adapter_store(tmp_path: Path, weak_adapter: Path) -> Path:
    """default/v1 = the shipped adapter, v2 = the weak one, v3 = an exact copy of v1."""
    root = tmp_path / "adapters"
    shutil.copytree(SHIPPED, root / "default" / "v1")
    shutil.copytree(weak_adapter, root / "default" / "v2")
    shutil.copytree(SHIPPED, root / "default" / "v3")
    return root


@pytest.fixture
def loop_settings(settings: Settings, adapter_store: Path, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"adapter_dir": adapter_store, "adapter_version": "v1", "state_dir": tmp_path / "state"}
    )


@pytest.fixture
def factory(loop_settings: Settings) -> sessionmaker[Session]:
    upgrade(loop_settings.database_url)
    return create_session_factory(create_db_engine(loop_settings.database_url))
