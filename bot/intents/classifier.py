"""Serving-time intent classification with a saved adapter version.

The LoRA matrices are merged into the base weights once at load time, so a forward pass costs
exactly what the plain base model costs. Where the hardware computes bf16 natively the forward
pass runs under bf16 autocast; elsewhere bf16 would be emulated and slower, so it stays fp32.
"""

from __future__ import annotations

import threading
from typing import Protocol

import torch
from peft import PeftModel
from transformers import PreTrainedTokenizerBase

from bot.encoder import load_tokenizer, load_transformer
from bot.intents import store
from bot.intents.base_model import cpu_supports_bf16, pick_device
from bot.intents.calibration import Calibration
from bot.intents.model import (
    CosineHead,
    IntentNetwork,
    LoadedBase,
    Prediction,
    own_adapted_weights,
    peft_wrapping,
    predictions_from_probabilities,
    tokenize,
)

INFERENCE_BATCH = 64
PRECISIONS = ("auto", "fp32", "bf16")


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
        precision: str = "fp32",
    ) -> None:
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.labels = labels
        self.calibration = calibration
        self.version = version
        self.device = device
        self.bf16 = resolve_precision(precision, device) == "bf16"
        # Tokenizers and torch modules are not documented as thread-safe for concurrent calls.
        # Re-entrant: the shared lower-layer pass holds it and may classify a long message.
        self.lock = threading.RLock()

    @property
    def out_of_scope_threshold(self) -> float:
        return self.calibration.out_of_scope_threshold

    def with_precision(self, precision: str) -> IntentClassifier:
        """The same weights computing in ``precision`` (``fp32``, ``bf16`` or ``auto``)."""
        return IntentClassifier(
            self.network, self.tokenizer, self.labels, self.calibration, self.version, self.device, precision
        )

    @torch.inference_mode()
    def classify(self, texts: list[str]) -> list[Prediction]:
        predictions: list[Prediction] = []
        with self.lock:
            for start in range(0, len(texts), INFERENCE_BATCH):
                chunk = texts[start : start + INFERENCE_BATCH]
                inputs = tokenize(self.tokenizer, chunk, self.device)
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    logits = self.network(**inputs).float()
                probabilities = self.calibration.probabilities(logits).cpu()
                predictions += predictions_from_probabilities(probabilities, self.labels)
        return predictions


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` becomes bf16 only where the device computes it natively, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_supports_bf16() else "fp32"


def load_classifier(
    ref: store.AdapterRef,
    device: str = "cpu",
    merge: bool = True,
    precision: str = "auto",
    base: LoadedBase | None = None,
) -> IntentClassifier:
    """Load a version for inference after checking its files against the manifest.

    ``merge=False`` keeps the LoRA layers separate (slower; the same predictions). ``base``, an
    encoder already in memory, lends its weights when the version was trained on that model:
    only the layers the adapter changes get weights of their own.
    """
    torch_device = pick_device(device)
    resolved = resolve_precision(precision, torch_device)
    store.verify(ref)
    training = store.read_json(ref.path / "training.json")
    labels: list[str] = store.read_json(ref.path / "labels.json")
    calibration = Calibration.from_json(store.read_json(ref.path / "calibration.json"))
    model_id = training["base_model"]
    # Moving a module to another device would move the tensors it shares too: CPU only.
    shared = base.sharing_copy(model_id) if base is not None and torch_device.type == "cpu" else None
    tokenizer, encoder = load_transformer(model_id) if shared is None else (load_tokenizer(model_id), shared)
    with peft_wrapping():
        peft_model = PeftModel.from_pretrained(encoder, str(ref.path))
    if merge and shared is not None:
        own_adapted_weights(peft_model)
    merged = peft_model.merge_and_unload() if merge else peft_model
    head = CosineHead(encoder.config.hidden_size, len(labels))
    tensors = store.load_head_tensors(ref)
    head.prototypes.data = tensors["prototypes"]
    head.log_scale.data = tensors["log_scale"].reshape(())
    network = IntentNetwork(merged, head).to(torch_device)
    return IntentClassifier(network, tokenizer, labels, calibration, ref.id, torch_device, resolved)


def classifier_from_trained(trained: object, version: str = "unsaved") -> IntentClassifier:
    """Wrap a freshly trained model (still unmerged) for evaluation before it is saved."""
    from bot.intents.train import TrainedModel

    assert isinstance(trained, TrainedModel)
    device = next(trained.network.parameters()).device
    return IntentClassifier(
        trained.network, trained.tokenizer, trained.labels, trained.calibration, version, device
    )
