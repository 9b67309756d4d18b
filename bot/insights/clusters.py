"""Intent discovery: group the customer turns the bot did not serve well into candidate intents.

The turns: those answered out of scope, asked back about (low confidence), or whose reply got a
thumbs-down, that no staff member has labelled yet. They are embedded with the served intent
model's encoder (the space its intents are separated in) and clustered by agglomerative
clustering with average linkage and a cosine distance threshold, so the number of clusters is
found, not guessed; turns that join nobody are left out. Each cluster gets its size, its growth
(turns in the last ``RECENT`` against the same span before), the turns nearest its centre, a name
from its most distinctive words (class-based TF-IDF: frequent in this cluster, rare in the
others) and the nearest existing intent by cosine to the model's intent prototypes; above
``SAME_INTENT_SIMILARITY`` the cluster is shown as that intent ("label them") rather than a new one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from pydantic import BaseModel, Field
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.db.models import Feedback, Label, Message, as_utc, utc_midnight
from bot.db.review import FALLBACK_ACTIONS
from bot.intents.classifier import INFERENCE_BATCH, IntentClassifier
from bot.intents.model import tokenize
from bot.staff.labels import STAFF

ASK_BACK_ACTION = "clarify"
# Cosine distance beyond which groups stay apart. On CLINC150 with 10 intents held back
# (benchmarks/intent_discovery.py, three splits), 0.45 and 0.5 recovered them best of 0.4-0.7
# (mean ARI 0.88 and 0.87); from 0.6 up, clusters of out-of-scope turns swallow them.
DISTANCE_THRESHOLD = 0.5
MIN_CLUSTER_SIZE = 2
MAX_TURNS = 2000
RECENT = dt.timedelta(days=7)
REPRESENTATIVES = 5
NAME_WORDS = 3
# The shipped model's turns score 0.5-0.7 to their own intent's prototype, under 0.35 to others.
SAME_INTENT_SIMILARITY = 0.5
TOKEN = re.compile(r"[a-z][a-z0-9']+")


class TurnEmbedder(Protocol):
    """What clustering needs from a model: unit-length embeddings and the known intents' prototypes."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def prototypes(self) -> tuple[list[str], np.ndarray]: ...


class ClassifierEmbedder:
    """The served intent classifier's encoder (mean-pooled, normalised) and its cosine head's prototypes."""

    def __init__(self, classifier: IntentClassifier) -> None:
        self.classifier = classifier

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        classifier = self.classifier
        chunks: list[np.ndarray] = []
        for start in range(0, len(texts), INFERENCE_BATCH):
            batch = list(texts[start : start + INFERENCE_BATCH])
            # The lock per batch, not for the whole list: live chat turns share this model and
            # must not wait seconds behind a console page.
            with classifier.lock:
                inputs = tokenize(classifier.tokenizer, batch, classifier.device)
                chunks.append(classifier.network.embed(**inputs).float().cpu().numpy())
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, 1), dtype=np.float32)
        return _unit(vectors)

    def prototypes(self) -> tuple[list[str], np.ndarray]:
        weights = self.classifier.network.head.prototypes.detach().float().cpu().numpy()
        return list(self.classifier.labels), _unit(weights)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-9, None)


@dataclass(frozen=True)
class UnservedTurn:
    message_id: int
    conversation_id: str
    text: str
    created_at: dt.datetime
    reason: str  # out_of_scope, low_confidence or thumbs_down


class ClusterTurn(BaseModel):
    message_id: int
    conversation_id: str
    text: str
    created_at: dt.datetime
    reason: str
    representative: bool = Field(description="Among the turns nearest the cluster's centre")


class Cluster(BaseModel):
    size: int
    recent: int = Field(description="Turns in the last 7 days")
    earlier: int = Field(description="Turns in the 7 days before those")
    growth: float | None = Field(description="recent / earlier - 1; None when there were none earlier")
    name: str = Field(description="Suggested intent name from the cluster's most distinctive words")
    words: list[str]
    nearest_intent: str | None
    similarity: float | None = Field(description="Cosine of the cluster's centre to the nearest intent")
    looks_like: str | None = Field(description="An existing intent these turns probably are: label them")
    turns: list[ClusterTurn]


class ClusterReport(BaseModel):
    since: dt.date | None
    turns: int = Field(description="Unserved turns looked at")
    clustered: int
    clusters: list[Cluster]


def unserved_turns(
    factory: sessionmaker[Session], since: dt.datetime | None, limit: int = MAX_TURNS
) -> list[UnservedTurn]:
    """The newest ``limit`` customer turns the bot served badly and staff have not labelled."""
    reply = aliased(Message)
    newer = aliased(Feedback)
    thumbs_down = exists().where(
        Feedback.message_id == reply.id,
        Feedback.rating == "down",
        not_(exists().where(newer.message_id == Feedback.message_id, newer.id > Feedback.id)),
    )
    labelled = exists().where(Label.message_id == Message.id, Label.source == STAFF)
    out_of_scope = reply.reply_action.in_(FALLBACK_ACTIONS)
    asked_back = reply.reply_action == ASK_BACK_ACTION
    query = (
        select(
            Message.id, Message.conversation_id, Message.text, Message.created_at, out_of_scope, asked_back
        )
        .join(reply, and_(reply.reply_to_id == Message.id, reply.role == "bot"))
        .where(Message.role == "user", or_(out_of_scope, asked_back, thumbs_down), not_(labelled))
        .order_by(Message.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(Message.created_at >= since)
    turns: dict[int, UnservedTurn] = {}
    with factory() as session:
        for message_id, conversation_id, text, created_at, is_oos, is_ask in session.execute(query):
            reason = "out_of_scope" if is_oos else "low_confidence" if is_ask else "thumbs_down"
            turns.setdefault(
                message_id, UnservedTurn(message_id, conversation_id, text, as_utc(created_at), reason)
            )
    return list(turns.values())


def cluster_turns(
    turns: Sequence[UnservedTurn],
    embedder: TurnEmbedder,
    now: dt.datetime | None = None,
    distance_threshold: float = DISTANCE_THRESHOLD,
) -> list[Cluster]:
    """Clusters of at least ``MIN_CLUSTER_SIZE`` turns, the biggest first."""
    if len(turns) < MIN_CLUSTER_SIZE:
        return []
    vectors = embedder.embed([turn.text for turn in turns])
    assignments = cluster_vectors(vectors, distance_threshold)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(assignments):
        members.setdefault(int(label), []).append(index)
    groups = [indices for indices in members.values() if len(indices) >= MIN_CLUSTER_SIZE]
    names = distinctive_words([[turns[i].text for i in group] for group in groups])
    intents, prototypes = embedder.prototypes()
    now = now or dt.datetime.now(dt.UTC)
    clusters = [
        _cluster([turns[i] for i in group], vectors[group], words, intents, prototypes, now)
        for group, words in zip(groups, names, strict=True)
    ]
    clusters.sort(key=lambda cluster: (-cluster.size, cluster.name))
    return clusters


def cluster_vectors(vectors: np.ndarray, distance_threshold: float = DISTANCE_THRESHOLD) -> np.ndarray:
    """A cluster label per row of unit vectors: agglomerative, average linkage, cosine distance,
    no merge of groups further apart than ``distance_threshold``."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance_threshold
    )
    return np.asarray(model.fit_predict(vectors))


def distinctive_words(documents: Sequence[Sequence[str]], top: int = NAME_WORDS) -> list[list[str]]:
    """Each cluster's ``top`` words by class-based TF-IDF (each cluster's turns are one document)."""
    if not documents:
        return []
    joined = [" ".join(texts).lower() for texts in documents]
    vectorizer = CountVectorizer(token_pattern=TOKEN.pattern, stop_words=list(ENGLISH_STOP_WORDS))
    try:
        counts = vectorizer.fit_transform(joined).toarray().astype(float)
    except ValueError:  # only stop words
        return [[] for _ in documents]
    vocabulary = vectorizer.get_feature_names_out()
    term_frequency = counts / np.clip(counts.sum(axis=1, keepdims=True), 1, None)
    average_words = counts.sum() / len(documents)
    idf = np.log(1 + average_words / np.clip(counts.sum(axis=0), 1, None))
    scores = term_frequency * idf
    words = []
    for row, count_row in zip(scores, counts, strict=True):
        order = sorted(range(len(row)), key=lambda i: (-row[i], vocabulary[i]))
        words.append([str(vocabulary[i]) for i in order[:top] if count_row[i] > 0])
    return words


def suggested_name(words: Sequence[str]) -> str:
    """An intent-shaped name (lower case, '_'-joined, starting with a letter) from the words."""
    name = "_".join(re.sub(r"[^a-z0-9]", "", word) for word in words if word)
    name = re.sub(r"_+", "_", name).strip("_")[:63]
    return name if len(name) >= 2 and name[0].isalpha() else "new_intent"


def _cluster(
    turns: list[UnservedTurn],
    vectors: np.ndarray,
    words: list[str],
    intents: list[str],
    prototypes: np.ndarray,
    now: dt.datetime,
) -> Cluster:
    centre = _unit(vectors.mean(axis=0, keepdims=True))[0]
    closeness = vectors @ centre
    nearest_first = sorted(range(len(turns)), key=lambda i: (-closeness[i], turns[i].message_id))
    representatives = set(nearest_first[:REPRESENTATIVES])
    recent = sum(1 for turn in turns if turn.created_at > now - RECENT)
    earlier = sum(1 for turn in turns if now - 2 * RECENT < turn.created_at <= now - RECENT)
    nearest, similarity = None, None
    if len(intents):
        similarities = prototypes @ centre
        best = int(np.argmax(similarities))
        nearest, similarity = intents[best], round(float(similarities[best]), 4)
    looks_like = nearest if similarity is not None and similarity >= SAME_INTENT_SIMILARITY else None
    return Cluster(
        size=len(turns),
        recent=recent,
        earlier=earlier,
        growth=round(recent / earlier - 1, 4) if earlier else None,
        name=suggested_name(words),
        words=words,
        nearest_intent=nearest,
        similarity=similarity if similarity is None or math.isfinite(similarity) else None,
        looks_like=looks_like,
        turns=[
            ClusterTurn(
                message_id=turns[i].message_id,
                conversation_id=turns[i].conversation_id,
                text=turns[i].text,
                created_at=turns[i].created_at,
                reason=turns[i].reason,
                representative=i in representatives,
            )
            for i in nearest_first
        ],
    )


def discover(
    factory: sessionmaker[Session],
    embedder: TurnEmbedder,
    since: dt.date | None = None,
    limit: int = MAX_TURNS,
    now: dt.datetime | None = None,
) -> ClusterReport:
    start = utc_midnight(since) if since is not None else None
    turns = unserved_turns(factory, start, limit)
    clusters = cluster_turns(turns, embedder, now)
    return ClusterReport(
        since=since, turns=len(turns), clustered=sum(c.size for c in clusters), clusters=clusters
    )
