"""Retrieval over documents' chunks on the real Postgres + pgvector, as a chat turn asks for it.

Chunks are bulk-loaded without the model: a few hundred realistic passages are embedded once,
then Postgres makes the rows (each a passage's vector plus a little noise, renormalised),
spread over many people's ready documents. Searches then go through
`documents.selectors.search_passages` exactly as the researcher agent's do.
"""

import random
import statistics
import time
from contextlib import contextmanager

from django.db import connection

from accounts.models import User
from documents import selectors
from documents.models import Document
from memory.embeddings import embedder

BENCH_DOMAIN = "bench-documents.invalid"  # the benchmark's people (deleted afterwards)
PEOPLE = 200
DOCUMENTS_PER_PERSON = 5

_TOPICS = {
    "the quarterly budget": ["rose by 4%", "was cut for travel", "needs sign-off by Friday"],
    "the onboarding guide": ["covers laptops and badges", "asks for a buddy", "lists the tools"],
    "the lease agreement": ["ends in March", "allows one pet", "requires two months' notice"],
    "the sourdough recipe": ["uses a 1:1 starter", "proofs overnight", "bakes at 250 degrees"],
    "the incident report": ["blames a full disk", "took 40 minutes", "adds a disk alert"],
    "the travel policy": ["caps hotels at 150 euros", "prefers trains", "needs receipts"],
    "the garden plan": ["puts tomatoes by the wall", "waters twice a week", "adds compost"],
    "the thesis draft": ["has four chapters", "cites 80 papers", "is due in June"],
}
QUERIES = [
    "What does the lease say about pets?",
    "How long did the outage last?",
    "At what temperature do I bake the bread?",
    "Who must approve the budget?",
    "What is the hotel limit when travelling?",
    "When is my thesis due?",
    "How often should the garden be watered?",
    "What do new hires receive on day one?",
]


def passages(count: int, seed: int = 1) -> list[str]:
    """`count` distinct passages of three or four sentences about the topics above."""
    rng = random.Random(seed)  # noqa: S311 - test data
    topics = list(_TOPICS)
    texts: set[str] = set()
    while len(texts) < count:
        sentences = []
        for _ in range(rng.choice((3, 4))):
            topic = rng.choice(topics)
            sentences.append(f"According to {topic}, it {rng.choice(_TOPICS[topic])}.")
        texts.add(f"Section {rng.randint(1, 40)}. " + " ".join(sentences))
    return sorted(texts)


def people(count: int = PEOPLE) -> list[str]:
    """`count` new people of the benchmark, each with DOCUMENTS_PER_PERSON ready documents."""
    users = User.objects.bulk_create(
        User(email=f"reader-{n}@{BENCH_DOMAIN}", password="!")  # noqa: S106 - unusable
        for n in range(count)
    )
    Document.objects.bulk_create(
        Document(
            owner=user,
            title=f"Document {n} of {user.email}",
            content_type="text/plain",
            size_bytes=0,
            status=Document.Status.READY,
        )
        for user in users
        for n in range(DOCUMENTS_PER_PERSON)
    )
    return [str(user.pk) for user in users]


def load(base_texts: list[str], total: int) -> None:
    """Top the benchmark's chunks up to `total`: round-robin over its documents (so over its
    people), each chunk a base passage's vector with 2% noise, made inside Postgres."""
    vectors = embedder().embed(base_texts)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_base (n int, text text, v vector)")
        cursor.execute("TRUNCATE bench_base")
        with cursor.copy("COPY bench_base (n, text, v) FROM STDIN") as copy:
            for n, (text, vector) in enumerate(zip(base_texts, vectors, strict=True)):
                copy.write_row((n, text, "[" + ",".join(f"{x:.6f}" for x in vector) + "]"))
        cursor.execute("DROP TABLE IF EXISTS bench_documents")  # the people may have changed
        cursor.execute(
            "CREATE TEMP TABLE bench_documents AS "
            "SELECT row_number() OVER (ORDER BY d.id) - 1 AS n, d.id, d.owner_id "
            "FROM documents_document d JOIN accounts_user u ON u.id = d.owner_id "
            "WHERE u.email LIKE %s",
            ["%@" + BENCH_DOMAIN],
        )
        cursor.execute("SELECT count(*) FROM bench_documents")
        documents = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM documents_chunk WHERE owner_id IN "
            "(SELECT owner_id FROM bench_documents)"
        )
        have = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO documents_chunk (id, document_id, owner_id, ordinal, page, text, embedding)
            SELECT gen_random_uuid(), d.id, d.owner_id, i / %s, NULL, b.text,
                   l2_normalize(b.v + (SELECT array_agg((random() - 0.5) * 0.04)::vector
                                       FROM generate_series(1, vector_dims(b.v)) WHERE i >= 0))
            FROM generate_series(%s, %s - 1) AS i
            JOIN bench_documents d ON d.n = i %% %s
            JOIN bench_base b ON b.n = (hashint4(i) & 2147483647) %% %s
            """,
            [documents, have, total, documents, len(base_texts)],
        )
        cursor.execute("ANALYZE documents_chunk")


def clean() -> None:
    """The benchmark's people go, and their documents and chunks with them (cascades)."""
    User.objects.filter(email__endswith="@" + BENCH_DOMAIN).delete()


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000


@contextmanager
def precomputed_query_vectors():
    """The selector's embedder answers queries from a table: the search timed without the
    model."""
    vectors = dict(zip(QUERIES, embedder().embed(QUERIES), strict=True))

    class Cached:
        def embed(self, texts):
            return [vectors[text] for text in texts]

    real = selectors.embedder
    selectors.embedder = Cached
    try:
        yield
    finally:
        selectors.embedder = real


def time_searches(users: list[str], rounds: int, seed: int = 7) -> dict:
    """p50/p95 of `search_passages` with and without the query's embedding, and how many of
    the asked passages came back."""
    rng = random.Random(seed)  # noqa: S311 - test data
    asks = [(rng.choice(users), rng.choice(QUERIES)) for _ in range(rounds)]
    for user, query in asks[:10]:  # warm the pool and the caches
        selectors.search_passages(user, query)
    full, found = [], []
    for user, query in asks:
        started = time.perf_counter()
        found.append(len(selectors.search_passages(user, query)))
        full.append(time.perf_counter() - started)
    without = []
    with precomputed_query_vectors():
        for user, query in asks:
            started = time.perf_counter()
            selectors.search_passages(user, query)
            without.append(time.perf_counter() - started)
    return {
        "search": percentiles(full),
        "search_without_embedding": percentiles(without),
        "hits_mean": sum(found) / len(found),
    }


def search_plan(user: str) -> str:
    """The plan Postgres picks for the selector's query (its scan of the chunks)."""
    vector = embedder().embed([QUERIES[0]])[0]
    queryset = (
        selectors.Chunk.objects.owned_by(user)
        .ready()
        .annotate(distance=selectors.CosineDistance("embedding", vector))
        .order_by("distance")[: selectors.PASSAGE_LIMIT]
    )
    lines = queryset.explain().splitlines()
    chunk_scans = (line.strip() for line in lines if "Scan" in line and "documents_chunk" in line)
    return next(chunk_scans, lines[0])
