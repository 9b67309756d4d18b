"""Everything heavy the server holds: database engine, intent model, retriever. Built once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.conversation import ConversationService
from bot.chat.engine import ChatEngine, ClassifierSlot, ThresholdSettings
from bot.chat.responses import ResponseBook, load_responses
from bot.config import Settings
from bot.db.session import create_db_engine, create_session_factory
from bot.intents import store
from bot.intents.classifier import Classifier, load_classifier
from bot.retrieval.index import KnowledgeIndex, build_index, load_encoder

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

    def close(self) -> None:
        self.engine.dispose()


def load_models(settings: Settings) -> Models:
    ref = store.resolve(settings.adapter_dir, settings.adapter_name, settings.adapter_version)
    log.info("loading intent adapter %s", ref.id)
    classifier = load_classifier(ref, settings.device)
    encoder = load_encoder(settings.base_model, device="cpu")
    index = build_index(settings.data_dir / "knowledge", settings.state_dir, encoder, settings.base_model)
    log.info("knowledge index: %d articles, %d chunks", len(index.articles), len(index.chunks))
    responses = load_responses(settings.data_dir / "responses.yml")
    return Models(classifier, index, responses)


def build_services(settings: Settings, models: Models) -> Services:
    engine = create_db_engine(settings.database_url)
    factory = create_session_factory(engine)
    slot = ClassifierSlot(models.classifier)
    chat = ChatEngine(
        slot,
        models.index,
        models.responses,
        ThresholdSettings(
            confidence=settings.confidence_threshold,
            out_of_scope=settings.out_of_scope_threshold,
            retrieval=settings.retrieval_threshold,
            suggestions=settings.suggestion_count,
            top_k=settings.retrieval_top_k,
        ),
    )
    return Services(
        settings=settings,
        engine=engine,
        session_factory=factory,
        slot=slot,
        index=models.index,
        chat=chat,
        conversations=ConversationService(factory, chat),
    )
