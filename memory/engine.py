"""Mem0 wired to the product: its pgvector store in our own Postgres (our pool), our embedder,
its extraction LLM through the model ring, no history file. One per process. (Telemetry is
switched off in memory/__init__.py, before anything can import mem0.)

Mem0's `langchain` providers exist to take model instances, but they import the `langchain`
meta-package for two isinstance checks; we register our own two small adapters under that
provider name instead of adding that dependency.
"""

import threading

from django.conf import settings
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from mem0 import Memory as Mem0Memory
from mem0.configs.base import MemoryConfig
from mem0.embeddings.base import EmbeddingBase
from mem0.llms.base import LLMBase
from mem0.utils.factory import EmbedderFactory, LlmFactory
from psycopg_pool import ConnectionPool

from agents.llm import ModelRing
from agentsite import pg
from memory import prompts
from memory.embeddings import embedder

COLLECTION = "memories"
_ROLES = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


class RingLLM(LLMBase):
    """Mem0's LLM calls go through the model ring: retries, fallback, breaker, LLMCall rows.
    Its `response_format` (JSON mode, which a small model needs to answer JSON at all) goes
    with the request; on a local model its long system prompts are sent compact."""

    def __init__(self, config=None):
        super().__init__(config)
        self.model = ModelRing(purpose="memory")

    def generate_response(self, messages, response_format=None, tools=None, **kwargs):
        prompt = [_as_message(m) for m in messages if m["role"] in _ROLES]
        options = {"response_format": response_format} if response_format else {}
        return str(self.model.invoke(prompt, **options).content)


def _as_message(message: dict):
    content = message["content"]
    if message["role"] == "system":
        content = prompts.system_prompt(content)
    return _ROLES[message["role"]](content)


class Mem0Embedder(EmbeddingBase):
    """Mem0's embedder is the process's one embedder (memory/embeddings.py)."""

    def embed(self, text, memory_action=None):
        return embedder().embed([text])[0]

    def embed_batch(self, texts, memory_action="add"):
        return embedder().embed(list(texts))


class _NoHistory:
    """Mem0's history store, switched off: it would keep copies of every memory's text (and of
    the messages) in SQLite beside Postgres, so "forget all" would not forget. Timestamps live
    in the memory itself; the source message and session in its metadata."""

    def get_last_messages(self, *args, **kwargs):
        return []

    def get_history(self, *args, **kwargs):
        return []

    def save_messages(self, *args, **kwargs):
        pass

    def add_history(self, *args, **kwargs):
        pass

    def batch_add_history(self, *args, **kwargs):
        pass

    def reset(self):
        pass

    def close(self):
        pass


class ProductMemory(Mem0Memory):
    """Mem0 as configured by `build_memory`, without its history store."""

    def __init__(self, config):
        super().__init__(config)
        self.db.close()  # the in-memory SQLite Mem0 opens
        self.db = _NoHistory()


LlmFactory.register_provider("langchain", f"{__name__}.RingLLM")
EmbedderFactory.provider_to_class["langchain"] = f"{__name__}.Mem0Embedder"


def _configure_connection(conn) -> None:
    """HNSW scans keep going until enough rows pass the per-person filter (pgvector 0.8), for
    the case the planner picks the vector index over the per-person index."""
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    conn.commit()


def _pool() -> ConnectionPool:
    return ConnectionPool(
        pg.conninfo(settings.DATABASES["default"]),
        min_size=1,
        max_size=settings.MEMORY_POOL_MAX,
        timeout=settings.DATABASES["default"]["OPTIONS"]["pool"]["timeout"],  # DB_POOL_TIMEOUT
        configure=_configure_connection,
        name="memory",
        open=True,
    )


def build_memory() -> ProductMemory:
    config = {
        "vector_store": {
            "provider": "pgvector",
            "config": {
                "collection_name": COLLECTION,
                "embedding_model_dims": settings.EMBEDDINGS_DIMS,
                "hnsw": True,
                "connection_pool": _pool(),
            },
        },
        "llm": {"provider": "langchain", "config": {"model": "agentsite-model-ring"}},
        "embedder": {
            "provider": "langchain",
            "config": {
                "model": settings.EMBEDDINGS_MODEL,
                "embedding_dims": settings.EMBEDDINGS_DIMS,
            },
        },
        "history_db_path": ":memory:",
    }
    return ProductMemory(MemoryConfig(**config))


_lock = threading.Lock()
_memory: dict[str, ProductMemory] = {}


def memory() -> ProductMemory:
    """The process's Mem0, built on first use for the database in the settings."""
    key = pg.conninfo(settings.DATABASES["default"])
    with _lock:
        if key not in _memory:
            _memory[key] = build_memory()
        return _memory[key]


def close() -> None:
    """Close the pools (tests drop their database afterwards)."""
    with _lock:
        for instance in _memory.values():
            instance.vector_store.connection_pool.close()
        _memory.clear()
