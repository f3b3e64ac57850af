"""Memory search and add-path figures on the real Postgres + pgvector.

Memories are bulk-loaded without the model: a few thousand realistic facts are embedded once,
then Postgres makes the rows (each a fact's vector plus a little noise, renormalised, spread
over 1,000 people). Searches then go through the memory service exactly as a chat turn's do.
"""

import asyncio
import random
import statistics
import time
import uuid
from contextlib import contextmanager

import numpy as np
from django.db import connection

from agents import checkpoints
from agentsite.loops import background_loop
from memory import engine, selectors
from memory.embeddings import embedder

BENCH_MARK = "bench"  # payload key of the rows the benchmark made (deleted afterwards)
PEOPLE = 1000

_SUBJECTS = {
    "lives in": ["Paris", "Berlin", "Lisbon", "Osaka", "Toronto", "Nairobi", "Lima", "Oslo"],
    "works as": ["a nurse", "a data engineer", "a baker", "a teacher", "a pilot", "a lawyer"],
    "likes": ["green tea", "jazz", "hiking", "chess", "sushi", "gardening", "cycling", "opera"],
    "dislikes": ["coffee", "crowds", "horror films", "spicy food", "early mornings", "rain"],
    "is allergic to": ["peanuts", "cats", "pollen", "shellfish", "penicillin", "dust"],
    "has": ["a dog named Max", "two kids", "a cat named Miso", "a vintage car", "a boat"],
    "is learning": ["Japanese", "the piano", "Rust", "pottery", "salsa", "to sail"],
    "prefers": ["short answers", "metric units", "dark mode", "examples in Python", "bullets"],
}
_WHEN = ["", " since 2019", " on weekends", " with friends", " most evenings", " lately"]
QUERIES = [
    "Where do I live?",
    "What should I cook for dinner tonight?",
    "Recommend a hobby for me",
    "What pets do I have?",
    "How should you format your answers?",
    "What am I allergic to?",
    "What do I do for a living?",
    "Which language am I studying?",
]


def facts(count: int, seed: int = 1) -> list[str]:
    """`count` distinct facts: one or two clauses ("User likes jazz and is learning Rust")."""
    rng = random.Random(seed)  # noqa: S311 - test data
    verbs = list(_SUBJECTS)

    def clause() -> str:
        verb = rng.choice(verbs)
        return f"{verb} {rng.choice(_SUBJECTS[verb])}"

    texts = set()
    while len(texts) < count:
        first, second = clause(), clause()
        both = f"{first} and {second}" if rng.random() < 0.6 and second != first else first
        texts.add(f"User {both}{rng.choice(_WHEN)}")
    return sorted(texts)


def people(count: int = PEOPLE) -> list[str]:
    rng = random.Random(0)  # noqa: S311 - test data
    return [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(count)]


def load(base_texts: list[str], users: list[str], total: int) -> None:
    """Top the benchmark's rows up to `total`: round-robin over the people, each row a base
    fact's vector with 2% noise, made inside Postgres."""
    vectors = embedder().embed(base_texts)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_base (n int, text text, v vector)")
        cursor.execute("TRUNCATE bench_base")
        with cursor.copy("COPY bench_base (n, text, v) FROM STDIN") as copy:
            for n, (text, vector) in enumerate(zip(base_texts, vectors, strict=True)):
                copy.write_row((n, text, "[" + ",".join(f"{x:.6f}" for x in vector) + "]"))
        cursor.execute("SELECT count(*) FROM memories WHERE payload ? %s", [BENCH_MARK])
        have = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO memories (id, vector, payload)
            SELECT gen_random_uuid(),
                   l2_normalize(b.v + (SELECT array_agg((random() - 0.5) * 0.04)::vector
                                       FROM generate_series(1, vector_dims(b.v)) WHERE i > 0)),
                   jsonb_build_object(
                       'user_id', (%s::text[])[1 + i %% %s], 'data', b.text,
                       'text_lemmatized', lower(b.text), 'hash', md5(b.text || i),
                       'created_at', now()::text, 'updated_at', now()::text, %s, true)
            FROM generate_series(%s, %s - 1) AS i
            JOIN bench_base b ON b.n = (hashint4(i) & 2147483647) %% %s
            """,
            [users, len(users), BENCH_MARK, have, total, len(base_texts)],
        )
        cursor.execute("ANALYZE memories")


def clean() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM memories WHERE payload ? %s", [BENCH_MARK])


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000


@contextmanager
def precomputed_query_vectors():
    """Mem0's embedder answers queries from a table: the search timed without the model."""
    mem0 = engine.memory()
    vectors = dict(zip(QUERIES, embedder().embed(QUERIES), strict=True))
    real = mem0.embedding_model

    class Cached:
        def embed(self, text, memory_action=None):
            return vectors[text]

        def embed_batch(self, texts, memory_action="add"):
            return [vectors[text] for text in texts]

    mem0.embedding_model = Cached()
    try:
        yield
    finally:
        mem0.embedding_model = real


def time_searches(users: list[str], rounds: int, seed: int = 7) -> dict:
    """p50/p95 of the service's search with and without the query's embedding, of the read
    path (what a turn waits for), and how many of the asked memories came back."""
    rng = random.Random(seed)  # noqa: S311 - test data
    asks = [(rng.choice(users), rng.choice(QUERIES)) for _ in range(rounds)]
    for user, query in asks[:10]:  # warm the pool and the caches
        selectors.search(user, query, limit=5)
    full, read_path, found = [], [], []
    for user, query in asks:
        started = time.perf_counter()
        hits = selectors.search(user, query, limit=5)
        full.append(time.perf_counter() - started)
        found.append(len(hits))
        started = time.perf_counter()
        selectors.facts_for_prompt(user, query, limit=5)
        read_path.append(time.perf_counter() - started)
    without = []
    with precomputed_query_vectors():
        for user, query in asks:
            started = time.perf_counter()
            selectors.search(user, query, limit=5)
            without.append(time.perf_counter() - started)
    return {
        "search": percentiles(full),
        "search_without_embedding": percentiles(without),
        "read_path": percentiles(read_path),
        "hits_mean": float(np.mean(found)),
    }


def search_plan(user: str) -> str:
    """The plan Postgres picks for Mem0's filtered vector query."""
    vector = embedder().embed(["Where do I live?"])[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT id, vector <=> %s::vector AS distance, payload FROM memories "
            "WHERE payload->>'user_id' = %s ORDER BY distance LIMIT 60",
            [vector, user],
        )
        lines = [row[0] for row in cursor.fetchall()]
    return next((line.strip() for line in lines if "Scan" in line), lines[0])


def time_adds(count: int) -> float:
    """Memories stored per second through Mem0's add (extraction by the LLM, one fact each,
    a new person each time so nothing is deduplicated away)."""
    mem0 = engine.memory()
    started = time.perf_counter()
    for n in range(count):
        mem0.add(
            [{"role": "user", "content": f"I like green tea, number {n}"}],
            user_id=str(uuid.uuid4()),
            metadata={BENCH_MARK: True},
        )
    return count / (time.perf_counter() - started)


async def _turn_start(user: str, query: str, with_memories: bool) -> float:
    """What a turn does before its first model call, as `ChatTurn._drive_graph` does it: the
    memory search started first, then the graph and the checkpoint loaded, then the search
    awaited."""
    started = time.perf_counter()
    memories = (
        asyncio.create_task(selectors.facts_for_turn(user, query, limit=5))
        if with_memories
        else None
    )
    graph = await checkpoints.agent_graph()
    await graph.aget_state({"configurable": {"thread_id": str(uuid.uuid4())}})
    if memories is not None:
        await memories
    return time.perf_counter() - started


def time_turn_start(users: list[str], rounds: int, seed: int = 11) -> dict:
    """The read path's added time to first token: a turn's start with and without the
    memory search (interleaved, so both see the same load)."""
    rng = random.Random(seed)  # noqa: S311 - test data
    asks = [(rng.choice(users), rng.choice(QUERIES)) for _ in range(rounds)]
    background_loop.run(_turn_start(*asks[0], True))  # warm
    without, with_memories = [], []
    for user, query in asks:
        without.append(background_loop.run(_turn_start(user, query, False)))
        with_memories.append(background_loop.run(_turn_start(user, query, True)))
    plain, searched = percentiles(without), percentiles(with_memories)
    return {
        "without": plain,
        "with": searched,
        "added": (searched[0] - plain[0], searched[1] - plain[1]),
    }
