"""Everything heavy the server holds: database engine, intent model, retriever. Built once."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import httpx
from sentence_transformers import SentenceTransformer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.http_call import ActionCaller
from bot.actions.lookup_limits import FailedLookups
from bot.chat.batching import InferenceBatchers
from bot.chat.conversation import ConversationService
from bot.chat.engine import ChatEngine, ClassifierSlot, ShadowSlot, ThresholdSettings
from bot.chat.form_turn import FormRunner
from bot.chat.group_commit import GroupCommitter
from bot.chat.hub import Hub
from bot.chat.redis_hub import RedisHub
from bot.chat.responses import ResponseBook, load_responses
from bot.chat.turn_lock import RedisTurnLocks, TurnLocks
from bot.config import Settings
from bot.content.files import ContentSet
from bot.content.live import LiveContent
from bot.content.store import ContentSnapshot, load_snapshot, seed_actions_if_new, seed_if_empty
from bot.db.session import create_db_engine, create_session_factory
from bot.intents import registry, store
from bot.intents.base_model import configure_serving_threads, pick_device
from bot.intents.classifier import Classifier, load_classifier, resolve_precision
from bot.intents.model import LoadedBase
from bot.learning.hot_swap import AdapterWatcher, RetrieverFollower
from bot.privacy.redact import redact
from bot.privacy.retention import RetentionWorker
from bot.rate_limits import MEMORY
from bot.redis_link import RedisLink
from bot.retrieval import adapter as retriever_adapter
from bot.retrieval.adapter import serving_query_encoder
from bot.retrieval.index import KnowledgeIndex, build_index, build_index_of, load_encoder, save_index

log = logging.getLogger(__name__)


@dataclass
class Models:
    """The parts that take seconds to load; tests build them once and share them."""

    classifier: Classifier
    index: KnowledgeIndex
    responses: ResponseBook


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    slot: ClassifierSlot
    index: KnowledgeIndex
    chat: ChatEngine
    conversations: ConversationService
    # The replies and articles served, following the content in the database.
    content: LiveContent
    batchers: InferenceBatchers | None = None
    writes: GroupCommitter | None = None
    shadow: ShadowSlot = field(default_factory=ShadowSlot)
    # Live events of conversations for customer and staff sockets (across processes with Redis).
    hub: Hub = field(default_factory=Hub)
    # BOT_REDIS_URL's connection; None: one process.
    redis: RedisLink | None = None
    # Business actions: the calls to the shop's backend and the forms that collect their slots.
    forms: FormRunner | None = None

    async def aclose(self) -> None:
        """Close what needs the event loop (the actions' HTTP client), then ``close``."""
        if self.forms is not None:
            await self.forms.caller.client.aclose()
        self.close()

    def close(self) -> None:
        if self.batchers is not None:
            self.batchers.close()
        if self.writes is not None:
            self.writes.close()  # waits for a group being committed, so nothing is cut short
        self.engine.dispose()


def load_models(
    settings: Settings, ref: store.AdapterRef | None = None, content: ContentSet | None = None
) -> Models:
    """Load the adapter ``ref`` (default: the configured one), the knowledge index and replies
    of ``content`` (default: the files in the data directory)."""
    if ref is None:
        ref = store.resolve(settings.adapter_dir, settings.adapter_name, settings.adapter_version)
    threads = configure_serving_threads(settings.inference_threads)
    log.info("loading intent adapter %s (%d torch threads)", ref.id, threads)
    # BOT_DEVICE places both models: with CUDA (auto) the intent model, the retriever's query
    # encoder and so the shared lower-layer pass all run on the GPU, micro-batched as on the CPU.
    device = pick_device(settings.device)
    encoder = load_encoder(settings.base_model, device=str(device))
    # The intent model borrows the retriever's base weights instead of reading them again.
    classifier = load_classifier(
        ref, settings.device, precision=settings.inference_precision, base=loaded_base(settings, encoder)
    )
    # The retriever's query embeddings follow the intent model's precision rule on its device.
    bf16_queries = resolve_precision(settings.inference_precision, device) == "bf16"
    if content is None:
        index = build_index(
            settings.data_dir / "knowledge",
            settings.state_dir,
            encoder,
            settings.base_model,
            bf16_queries,
            shipped_dir=settings.data_dir,
        )
    else:
        articles = list(content.articles.values())
        index = build_index_of(
            articles,
            settings.state_dir,
            encoder,
            settings.base_model,
            bf16_queries,
            shipped_dir=settings.data_dir,
        )
    log.info(
        "knowledge index: %d articles, %d chunks (queries on %s in %s); intent model on %s in %s",
        len(index.articles),
        len(index.chunks),
        device,
        "bf16" if bf16_queries else "fp32",
        classifier.device,
        "bf16" if classifier.bf16 else "fp32",
    )
    # The shop-adapted retriever embeds the queries where one is promoted (else the base encoder).
    index.query_encoder = serving_query_encoder(encoder, settings.adapter_dir, settings.retriever_adapter)
    if content is None:
        responses = load_responses(settings.data_dir / "responses.yml")
    else:
        responses = ResponseBook(dict(content.responses))
    return Models(classifier, index, responses)


def content_at_start(settings: Settings) -> ContentSnapshot:
    """The stored replies and articles, seeded from the data directory on the first start."""
    engine = create_db_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        factory = create_session_factory(engine)
        if seed_if_empty(factory, settings.data_dir):
            log.info("content seeded from %s", settings.data_dir)
        elif seed_actions_if_new(factory, settings.data_dir):
            log.info("business actions added from %s", settings.data_dir / "actions.yml")
        return load_snapshot(factory)
    finally:
        engine.dispose()


def build_services(settings: Settings, models: Models) -> Services:
    engine = create_db_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    factory = create_session_factory(engine)
    slot = ClassifierSlot(models.classifier)
    batchers = (
        InferenceBatchers(settings.batch_window_ms, settings.batch_max_size) if settings.batching else None
    )
    # Each app edits its own index: apps that share loaded models (tests) stay independent.
    index = models.index.copy()
    chat = ChatEngine(
        slot,
        index,
        models.responses,
        ThresholdSettings(
            confidence=settings.confidence_threshold,
            out_of_scope=settings.out_of_scope_threshold,
            retrieval=settings.retrieval_threshold,
            suggestions=settings.suggestion_count,
            top_k=settings.retrieval_top_k,
            kb_base_url=settings.kb_base_url,
        ),
        batchers,
    )
    shadow = ShadowSlot()
    # The turns' writes share transactions, one connection per group: SQLite takes one writer
    # at a time and syncs every commit; on PostgreSQL each transaction of its own cost a thread
    # hop, a pool checkout with its ping, BEGIN and COMMIT (measured: README "Performance").
    writes = GroupCommitter(factory)
    redis = RedisLink(settings.redis_url, settings.redis_prefix) if settings.redis_url else None

    forms = action_forms(settings) if settings.business_actions else None

    def save_reindexed(content: ContentSet) -> None:
        save_index(index, list(content.articles.values()), settings.state_dir, settings.base_model)

    return Services(
        settings=settings,
        engine=engine,
        session_factory=factory,
        slot=slot,
        index=index,
        chat=chat,
        conversations=ConversationService(
            factory,
            chat,
            shadow,
            writes,
            redact_text=redact if settings.store_redacted else None,
            turn_locks=TurnLocks() if redis is None else RedisTurnLocks(redis, settings.turn_lock_seconds),
            forms=forms,
            form_ttl=dt.timedelta(minutes=settings.form_ttl_minutes),
        ),
        content=LiveContent(factory, chat, save_reindexed),
        writes=writes,
        batchers=batchers,
        shadow=shadow,
        hub=Hub() if redis is None else RedisHub(redis),
        redis=redis,
        forms=forms,
    )


def action_forms(settings: Settings) -> FormRunner:
    """The actions' caller on one shared HTTP client (made here, closed by ``Services.aclose``)."""
    limit = settings.action_max_connections
    client = httpx.AsyncClient(
        # Each call's deadline is the action's own timeout (``bot/actions/http_call.py``).
        timeout=httpx.Timeout(30.0),
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        follow_redirects=False,
    )
    secrets = {name: value.get_secret_value() for name, value in settings.action_secrets.items()}
    caller = ActionCaller(client, settings.actions_base_url, secrets)
    lookups = FailedLookups(
        settings.action_failed_lookups_per_conversation,
        settings.action_failed_lookups_per_address,
        settings.redis_url or MEMORY,
        f"{settings.redis_prefix}limits",
    )
    return FormRunner(caller, lookups)


def production_adapter(settings: Settings) -> store.AdapterRef:
    """Register the adapter folders on disk and return the version the registry serves."""
    engine = create_db_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        factory = create_session_factory(engine)
        production = registry.sync_from_disk(
            factory, settings.adapter_dir, settings.adapter_name, settings.adapter_version
        )
        # The shop-adapted retrievers join the registry too: promoted there, they are followed
        # by every server's watcher (``RetrieverFollower``).
        on_disk = retriever_adapter.production(settings.adapter_dir)
        registry.sync_retrievers_from_disk(factory, settings.adapter_dir, retriever_adapter.NAME, on_disk)
        return registry.ref_of(production)
    finally:
        engine.dispose()


def adapter_watcher(services: Services) -> AdapterWatcher:
    settings = services.settings
    index = services.index
    # A pinned retriever (BOT_RETRIEVER_ADAPTER=base or a version) is not moved by promotions.
    follower = (
        RetrieverFollower(
            services.session_factory,
            index,
            serving=retriever_adapter.serving_ref(settings.adapter_dir, settings.retriever_adapter),
            loader=lambda row: retriever_adapter.load_query_encoder(index.encoder, registry.ref_of(row)),
        )
        if settings.retriever_adapter == "production"
        else None
    )
    return AdapterWatcher(
        services.session_factory,
        services.slot,
        services.shadow,
        loader=lambda row: load_classifier(
            registry.ref_of(row),
            settings.device,
            precision=settings.inference_precision,
            base=loaded_base(settings, index.encoder),
        ),
        retriever=follower,
    )


def loaded_base(settings: Settings, encoder: SentenceTransformer) -> LoadedBase | None:
    """The retriever's encoder as a base the intent model can borrow (None where it is not a
    transformers model, e.g. an ONNX backend)."""
    model = encoder.transformers_model
    return LoadedBase(settings.base_model, model) if model is not None else None


def retention_worker(services: Services) -> RetentionWorker:
    """The daily purge of conversations older than ``BOT_RETENTION_DAYS`` (which must be set)."""
    settings = services.settings
    assert settings.retention_days is not None
    return RetentionWorker(
        services.session_factory,
        settings.retention_days,
        settings.state_dir,
        settings.retain_labelled_redacted,
    )
