"""The embedder and Mem0's wiring: semantics, offline, nothing phones home."""

import numpy as np
import pytest
from django.conf import settings

from memory import engine
from memory.embeddings import OnnxMiniLM, OpenAIEmbeddings, embedder


@pytest.fixture(scope="module")
def minilm():
    return OnnxMiniLM()


def similarity(vectors, a: int, b: int) -> float:
    return float(np.dot(vectors[a], vectors[b]))


class TestOnnxMiniLM:
    def test_similar_sentences_are_closer_than_unrelated_ones(self, minilm):
        vectors = minilm.embed(
            [
                "I live in Paris.",
                "My home is in the French capital.",
                "The quarterly earnings beat expectations.",
            ]
        )
        assert similarity(vectors, 0, 1) > similarity(vectors, 0, 2) + 0.3

    def test_unit_vectors_of_the_configured_size(self, minilm):
        vectors = np.array(minilm.embed(["one", "two words", ""]))
        assert vectors.shape == (3, settings.EMBEDDINGS_DIMS)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    def test_a_batch_gives_what_single_texts_give(self, minilm):
        texts = ["short", "a much longer sentence with many more word pieces in it", "mid one"]
        batch = np.array(minilm.embed(texts))
        single = np.array([minilm.embed([text])[0] for text in texts])
        assert np.allclose(batch, single, atol=1e-4)


def test_an_embeddings_endpoint_when_configured(llm, settings):
    settings.EMBEDDINGS_BASE_URL = llm.base_url
    settings.EMBEDDINGS_MODEL = "sim-embed"
    remote = embedder()
    assert isinstance(remote, OpenAIEmbeddings)
    vectors = remote.embed(["cats purr", "cats purr loudly", "stock prices"])
    assert len(vectors[0]) == settings.EMBEDDINGS_DIMS
    assert similarity(vectors, 0, 1) > similarity(vectors, 0, 2)


def test_the_default_embedder_is_loaded_once():
    assert isinstance(embedder(), OnnxMiniLM)
    assert embedder() is embedder()


@pytest.mark.django_db
def test_mem0_is_offline_and_keeps_no_files_of_its_own():
    from mem0.configs import base
    from mem0.memory import telemetry

    assert telemetry.MEM0_TELEMETRY is False
    assert base.mem0_dir.startswith(str(settings.BASE_DIR))
    mem0 = engine.memory()
    assert mem0 is engine.memory()
    assert mem0.vector_store.collection_name == "memories"
    assert mem0.vector_store.embedding_model_dims == settings.EMBEDDINGS_DIMS
    assert mem0.db.get_last_messages("anything") == []  # no SQLite history
