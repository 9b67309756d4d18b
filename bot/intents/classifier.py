"""Serving-time intent classification with a saved adapter version.

The LoRA matrices are merged into the base weights once at load time, so a forward pass costs
exactly what the plain base model costs.
"""

from __future__ import annotations

import threading
from typing import Protocol

import torch
from peft import PeftModel
from transformers import PreTrainedTokenizerBase

from bot.intents import store
from bot.intents.base_model import configure_cpu_threads, pick_device
from bot.intents.calibration import Calibration
from bot.intents.model import (
    CosineHead,
    IntentNetwork,
    Prediction,
    load_encoder,
    predictions_from_probabilities,
    tokenize,
)

INFERENCE_BATCH = 64


class Classifier(Protocol):
    """What the chat turn needs from an intent model; tests may pass a small real one."""

    version: str
    labels: list[str]

    @property
    def out_of_scope_threshold(self) -> float: ...

    def classify(self, texts: list[str]) -> list[Prediction]: ...


class IntentClassifier:
    def __init__(
        self,
        network: IntentNetwork,
        tokenizer: PreTrainedTokenizerBase,
        labels: list[str],
        calibration: Calibration,
        version: str,
        device: torch.device,
    ) -> None:
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.labels = labels
        self.calibration = calibration
        self.version = version
        self.device = device
        # Tokenizers and torch modules are not documented as thread-safe for concurrent calls.
        self._lock = threading.Lock()

    @property
    def out_of_scope_threshold(self) -> float:
        return self.calibration.out_of_scope_threshold

    @torch.inference_mode()
    def classify(self, texts: list[str]) -> list[Prediction]:
        predictions: list[Prediction] = []
        with self._lock:
            for start in range(0, len(texts), INFERENCE_BATCH):
                chunk = texts[start : start + INFERENCE_BATCH]
                logits = self.network(**tokenize(self.tokenizer, chunk, self.device)).float()
                probabilities = (logits / self.calibration.temperature).softmax(-1).cpu()
                predictions += predictions_from_probabilities(probabilities, self.labels)
        return predictions


def load_classifier(ref: store.AdapterRef, device: str = "cpu", merge: bool = True) -> IntentClassifier:
    """Load a version for inference after checking its files against the manifest."""
    store.verify(ref)
    configure_cpu_threads()
    training = store.read_json(ref.path / "training.json")
    labels: list[str] = store.read_json(ref.path / "labels.json")
    calibration = Calibration.from_json(store.read_json(ref.path / "calibration.json"))
    tokenizer, encoder = load_encoder(training["base_model"])
    peft_model = PeftModel.from_pretrained(encoder, str(ref.path))
    merged = peft_model.merge_and_unload() if merge else peft_model
    head = CosineHead(encoder.config.hidden_size, len(labels))
    tensors = store.load_head_tensors(ref)
    head.prototypes.data = tensors["prototypes"]
    head.log_scale.data = tensors["log_scale"].reshape(())
    torch_device = pick_device(device)
    network = IntentNetwork(merged, head).to(torch_device)
    return IntentClassifier(network, tokenizer, labels, calibration, ref.id, torch_device)


def classifier_from_trained(trained: object, version: str = "unsaved") -> IntentClassifier:
    """Wrap a freshly trained model (still unmerged) for evaluation before it is saved."""
    from bot.intents.train import TrainedModel

    assert isinstance(trained, TrainedModel)
    device = next(trained.network.parameters()).device
    return IntentClassifier(
        trained.network, trained.tokenizer, trained.labels, trained.calibration, version, device
    )
