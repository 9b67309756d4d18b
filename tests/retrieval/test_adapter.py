"""The shop-adapted retriever: LoRA in the intent adapter's layers, trained on a small slice,
saved and loaded as a version, the base encoder untouched and serving when none is promoted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from bot.chat.shared_pass import shared_layer_count
from bot.cli import main
from bot.config import PROJECT_ROOT
from bot.intents.classifier import IntentClassifier
from bot.intents.store import AdapterError
from bot.retrieval import adapter
from bot.retrieval.articles import load_articles
from bot.retrieval.evaluation import all_hits, retriever_rankings
from bot.retrieval.metrics import summary
from bot.retrieval.questions import QUESTIONS_FILE, LabelledQuestion, Split, load_questions
from bot.services import Models

DATA = PROJECT_ROOT / "data"


@pytest.fixture(scope="module")
def slice_() -> list[LabelledQuestion]:
    """Two tuning questions of each of twelve articles."""
    known = {a.id for a in load_articles(DATA / "knowledge")}
    tune = [q for q in load_questions(DATA / QUESTIONS_FILE, known) if q.split == Split.TUNE]
    chosen: dict[str, list[LabelledQuestion]] = {}
    for question in tune:
        if len(chosen) < 12 or question.primary in chosen:
            chosen.setdefault(question.primary, [])
            if len(chosen[question.primary]) < 2:
                chosen[question.primary].append(question)
    return [q for questions in chosen.values() for q in questions]


@pytest.fixture(scope="module")
def trained(models: Models, slice_: list[LabelledQuestion]) -> adapter.TrainedRetriever:
    config = adapter.RetrieverTrainingConfig(epochs=3)
    return adapter.train_retriever(models.index.encoder, models.index.entries, slice_, "base", config)


def test_lora_sits_only_in_the_intent_adapters_upper_layers(trained: adapter.TrainedRetriever) -> None:
    lora = [name for name, _ in trained.peft_model.named_parameters() if "lora_" in name]
    assert lora
    assert {int(name.split("layer.")[1].split(".")[0]) for name in lora} == {3, 4, 5}


def test_training_ranks_its_questions_better_and_leaves_the_base_encoder_alone(
    models: Models, trained: adapter.TrainedRetriever, slice_: list[LabelledQuestion]
) -> None:
    before = {name: t.clone() for name, t in models.index.encoder.transformers_model.state_dict().items()}
    base, adapted = models.index.copy(), models.index.copy()
    base.query_encoder = models.index.encoder  # the session's index may serve the shipped adapter
    adapted.query_encoder = adapter.query_encoder_of(models.index.encoder, trained)
    base_rows = retriever_rankings(slice_, all_hits(base, slice_))
    adapted_rows = retriever_rankings(slice_, all_hits(adapted, slice_))
    assert summary(adapted_rows)["mrr"] > summary(base_rows)["mrr"]
    after = models.index.encoder.transformers_model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    # The lower layers are still the base ones: the shared pass keeps sharing them.
    assert isinstance(models.classifier, IntentClassifier)
    assert shared_layer_count(models.classifier, adapted) == shared_layer_count(models.classifier, base) == 3


def test_saved_version_loads_as_the_same_query_encoder_and_serves_once_promoted(
    models: Models, trained: adapter.TrainedRetriever, tmp_path: Path
) -> None:
    encoder = models.index.encoder
    assert adapter.serving_query_encoder(encoder, tmp_path, "production") is encoder, "base without one"
    ref = adapter.save_retriever(trained, tmp_path, {"holdout": {}}, "hash")
    assert (ref.name, ref.version) == ("retriever", "v1")
    assert adapter.serving_query_encoder(encoder, tmp_path, "production") is encoder, "not promoted yet"
    adapter.promote(ref, tmp_path)
    loaded = adapter.serving_query_encoder(encoder, tmp_path, "production")
    in_memory = adapter.query_encoder_of(encoder, trained)
    texts = ["where is my parcel", "can I pay with klarna"]
    assert torch.allclose(
        torch.tensor(loaded.encode(texts)), torch.tensor(in_memory.encode(texts)), atol=1e-5
    )
    assert adapter.serving_query_encoder(encoder, tmp_path, "base") is encoder
    with pytest.raises(AdapterError):
        adapter.serving_query_encoder(encoder, tmp_path, "v7")


def test_holdout_fold_covers_every_article_it_can() -> None:
    questions = [LabelledQuestion(f"q{i}", (f"a{i % 3}",), Split.TUNE) for i in range(12)]
    train, held = adapter.split_holdout(questions, 4)
    assert len(held) == 3 and {q.primary for q in held} == {"a0", "a1", "a2"}
    assert len(train) == 9


def test_train_command_saves_a_version_and_promotes_only_past_the_gate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA / "knowledge", data / "knowledge")
    shutil.copy(DATA / "kb_index.npz", data / "kb_index.npz")
    (data / "retrieval").mkdir()
    rows = "".join(
        f"{text},{article},tune\n"
        for text, article in [
            ("where is my parcel", "tracking-a-parcel"),
            ("parcel not arrived yet", "tracking-a-parcel"),
            ("tracking link broken", "tracking-a-parcel"),
            ("package location", "tracking-a-parcel"),
            ("cancel my order", "order-cancellation"),
            ("stop my order please", "order-cancellation"),
            ("i ordered by mistake", "order-cancellation"),
            ("cancel it now", "order-cancellation"),
        ]
    )
    (data / "retrieval" / "questions.csv").write_text("question,articles,split\n" + rows, encoding="utf-8")
    env = {
        "BOT_STATE_DIR": str(tmp_path / "state"),
        "BOT_ADAPTER_DIR": str(tmp_path / "adapters"),
        "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}",
    }
    extra = tmp_path / "confirmed.csv"
    extra.write_text("question,articles,split\nwhere's my stuff,tracking-a-parcel,test\n", encoding="utf-8")
    command = ["retriever", "train", "--data", str(data), "--epochs", "1", "--extra", str(extra)]
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 0, result.output
    counts = "training on 7 questions (1 from --extra, 0 reviewed by staff), gate on 2 held out"
    assert counts in result.stderr
    assert "no reviewed citations read" in result.stderr
    assert (tmp_path / "adapters" / "retriever" / "v1" / "adapter_model.safetensors").is_file()
    assert "not recorded in the adapter registry" in result.stderr and "bot db upgrade" in result.stderr
    promoted = (tmp_path / "adapters" / "retriever" / "production").is_file()
    assert promoted == ("promoted retriever/v1" in result.stdout)
    status = CliRunner().invoke(main, ["retriever", "status"], env=env)
    assert status.exit_code == 0 and "retriever/v1: held-out recall@1" in status.stdout


def test_retriever_versions_have_their_own_production_in_the_registry(
    sqlite_url: str, trained: adapter.TrainedRetriever, tmp_path: Path
) -> None:
    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents import registry, store

    upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url)
    factory = create_session_factory(engine)
    intent = store.resolve(PROJECT_ROOT / "adapters", "default", "v2")
    registry.register(factory, intent)
    registry.promote(factory, intent.id, actor="test", reason="serving")
    ref = adapter.save_retriever(trained, tmp_path, {"holdout": {}}, "hash")
    registry.register(factory, ref, kind=registry.RETRIEVER)
    registry.promote(factory, ref.id, actor="test", reason="passed the gate")
    current_intent = registry.production(factory)
    current_retriever = registry.production(factory, registry.RETRIEVER)
    assert current_intent is not None and current_intent.id == intent.id, "the intent adapter still serves"
    assert current_retriever is not None and current_retriever.id == "retriever/v1"
    assert registry.version_record(current_retriever)["kind"] == "retriever"
    engine.dispose()


def test_a_retriever_promoted_in_the_registry_is_served_without_a_restart(
    sqlite_url: str, models: Models, trained: adapter.TrainedRetriever, tmp_path: Path
) -> None:
    import anyio

    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents import registry
    from bot.learning.hot_swap import RetrieverFollower

    upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url)
    factory = create_session_factory(engine)
    index = models.index.copy()
    index.query_encoder = models.index.encoder
    saved = adapter.save_retriever(trained, tmp_path, {"holdout": {}}, "hash")
    # A first start registers the folder's versions; nothing promoted on disk: the base serves.
    assert registry.sync_retrievers_from_disk(factory, tmp_path, adapter.NAME, None) is None
    follower = RetrieverFollower(
        factory, index, None, lambda row: adapter.load_query_encoder(index.encoder, registry.ref_of(row))
    )
    anyio.run(follower.check_once)
    assert index.query_encoder is index.encoder, "nothing promoted: the base encoder keeps serving"

    registry.promote(factory, saved.id, actor="operator", reason="console")
    anyio.run(follower.check_once)
    assert follower.serving == "retriever/v1"
    texts = ["where is my parcel"]
    expected = adapter.query_encoder_of(models.index.encoder, trained).encode(texts)
    assert torch.allclose(torch.tensor(index.embed(texts, queries=True)), torch.tensor(expected), atol=1e-5)
    candidate = adapter.save_retriever(trained, tmp_path, {"holdout": {}}, "hash")
    registry.register(factory, candidate, kind=registry.RETRIEVER)
    with pytest.raises(registry.RegistryError, match="only intent adapters can shadow"):
        registry.set_shadow(factory, candidate.id, True, actor="operator")
    engine.dispose()


def test_a_first_start_promotes_the_version_the_folder_names(
    sqlite_url: str, trained: adapter.TrainedRetriever, tmp_path: Path
) -> None:
    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents import registry

    upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url)
    factory = create_session_factory(engine)
    saved = adapter.save_retriever(trained, tmp_path, {"holdout": {}}, "hash")
    adapter.promote(saved, tmp_path)
    on_disk = adapter.production(tmp_path)
    production = registry.sync_retrievers_from_disk(factory, tmp_path, adapter.NAME, on_disk)
    assert production is not None and production.id == saved.id and production.kind == registry.RETRIEVER
    assert registry.production(factory) is None, "the intent adapters' production is untouched"
    engine.dispose()
