"""The server reads the base encoder once: the intent model borrows the retriever's weights,
owns only the layers its adapter changes, and never changes what the retriever computes."""

from __future__ import annotations

import numpy as np

from bot.config import Settings
from bot.encoder import load_sentence_encoder as load_encoder
from bot.intents import store
from bot.intents.classifier import load_classifier
from bot.services import Models, loaded_base

TEXTS = ["where is my parcel", "I forgot my password", "can I pay with a gift card?", "hello"]


def test_the_retriever_embeds_as_a_freshly_loaded_encoder_after_adapters_are_loaded_on_it(
    models: Models, base_settings: Settings
) -> None:
    ref = store.resolve(base_settings.adapter_dir, base_settings.adapter_name, base_settings.adapter_version)
    # A second adapter on the same base, as a promotion loads one while the server runs.
    load_classifier(ref, "cpu", base=loaded_base(base_settings, models.index.encoder))
    fresh = load_encoder(base_settings.base_model).encode(TEXTS, normalize_embeddings=True)
    assert np.array_equal(models.index.embed(TEXTS), fresh)


def test_the_intent_model_owns_only_the_weights_its_adapter_changes(
    models: Models, base_settings: Settings
) -> None:
    ref = store.resolve(base_settings.adapter_dir, base_settings.adapter_name, base_settings.adapter_version)
    borrowed = load_classifier(
        ref, "cpu", precision="fp32", base=loaded_base(base_settings, models.index.encoder)
    )
    retriever_tensors = {tensor.data_ptr() for tensor in models.index.encoder.transformers_model.parameters()}
    names = [name for name, _ in borrowed.network.encoder.named_parameters()]
    own = [
        name
        for name, p in borrowed.network.encoder.named_parameters()
        if p.data_ptr() not in retriever_tensors
    ]
    assert 0 < len(own) < len(names) / 2
    assert all(".attention." in name or ".intermediate." in name or ".output." in name for name in own)
    assert not any(name.startswith("embeddings.") for name in own)


def test_an_adapter_on_the_borrowed_base_predicts_exactly_as_one_loaded_from_disk(
    models: Models, base_settings: Settings
) -> None:
    ref = store.resolve(base_settings.adapter_dir, base_settings.adapter_name, base_settings.adapter_version)
    borrowed = load_classifier(
        ref, "cpu", precision="fp32", base=loaded_base(base_settings, models.index.encoder)
    )
    from_disk = load_classifier(ref, "cpu", precision="fp32")
    assert borrowed.classify(TEXTS) == from_disk.classify(TEXTS)
