"""Training only the top layers from cached lower-layer states: same network, LoRA where it belongs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bot.config import DEFAULT_BASE_MODEL
from bot.encoder import load_transformer
from bot.intents import store
from bot.intents.classifier import classifier_from_trained, load_classifier
from bot.intents.dataset import Example, IntentDataset
from bot.intents.layer_cache import lower_layer_states, supports_layer_cache, upper_layer_embeddings
from bot.intents.model import mean_pool, tokenize
from bot.intents.train import TrainingConfig, train_model

TEXTS = [
    "hi",
    "where is my parcel, it should have arrived on monday and the tracking page shows nothing at all",
    "cancel my order please",
]
TRAIN = [
    Example(text, intent)
    for intent, texts in {
        "cancel_order": ["cancel my order", "please cancel the order", "i want to cancel", "stop my order"],
        "track_order": ["where is my parcel", "track my order", "has my package shipped", "delivery status"],
        "reset_password": ["reset my password", "forgot my password", "cannot log in", "change my password"],
    }.items()
    for text in texts
]


def test_cached_lower_layers_plus_upper_layers_equal_the_full_encoder() -> None:
    tokenizer, encoder = load_transformer(DEFAULT_BASE_MODEL)
    encoder.eval()
    assert supports_layer_cache(encoder)
    device = torch.device("cpu")
    with torch.no_grad():
        inputs = tokenize(tokenizer, TEXTS, device)
        full = mean_pool(encoder(**inputs).last_hidden_state, inputs["attention_mask"])
        states = lower_layer_states(encoder, tokenizer, TEXTS, 4, device)
        cached = upper_layer_embeddings(encoder, states, 4)
    assert [state.shape[0] for state in states] == inputs["attention_mask"].sum(1).tolist(), "unpadded"
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adapters")


def small_dataset(train: list[Example]) -> IntentDataset:
    labels = sorted({example.intent for example in train})
    return IntentDataset(train=train, val=train[::4], test=train[1::4], labels=labels)


@pytest.mark.slow
def test_lora_goes_only_into_the_top_layers_and_the_saved_adapter_serves_the_same(adapters: Path) -> None:
    dataset = small_dataset(TRAIN)
    config = TrainingConfig(epochs=2, batch_size=4, trainable_layers=2, device="cpu", bf16="off")
    trained = train_model(dataset, DEFAULT_BASE_MODEL, config)
    trainable = [name for name, p in trained.network.named_parameters() if p.requires_grad]
    assert all(".layer.4." in name or ".layer.5." in name for name in trainable if "lora_" in name)
    assert any(".layer.4." in name for name in trainable) and any("head" in name for name in trainable)

    ref = store.save(trained, adapters, "top", data_hash=dataset.data_hash, metrics={})
    assert store.read_json(ref.path / "adapter_config.json")["layers_to_transform"] == [4, 5]
    texts = [example.text for example in TRAIN]
    served = load_classifier(ref, "cpu").classify(texts)
    unsaved = classifier_from_trained(trained).classify(texts)
    assert [p.intent for p in served] == [p.intent for p in unsaved]
    for a, b in zip(served, unsaved, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)


@pytest.mark.slow
def test_warm_start_keeps_the_previous_adapter_and_learns_a_new_intent(adapters: Path) -> None:
    first = small_dataset(TRAIN)
    config = TrainingConfig(epochs=2, batch_size=4, trainable_layers=3, device="cpu", bf16="off")
    previous = store.save(
        train_model(first, DEFAULT_BASE_MODEL, config),
        adapters,
        "warm",
        data_hash=first.data_hash,
        metrics={},
    )
    greetings = ["hello there", "good morning", "hi, anyone around?", "hey"]
    second = small_dataset(TRAIN + [Example(text, "greeting") for text in greetings])
    narrower = TrainingConfig(epochs=2, batch_size=4, trainable_layers=1, device="cpu", bf16="off")
    trained = train_model(second, DEFAULT_BASE_MODEL, narrower, warm_start=previous.path)

    trainable = {
        name for name, p in trained.network.named_parameters() if p.requires_grad and "lora_" in name
    }
    assert trainable and all(".layer.5." in name for name in trainable), "older layers stay frozen"
    frozen_lora = [
        name for name, p in trained.network.named_parameters() if "lora_" in name and ".layer.3." in name
    ]
    assert frozen_lora, "the previous adapter's layer-3 matrices still apply"
    assert trained.labels == ["cancel_order", "greeting", "reset_password", "track_order"]
    predictions = classifier_from_trained(trained).classify(["good morning", "cancel my order"])
    assert [p.intent for p in predictions] == ["greeting", "cancel_order"]
