"""Retrieval over a person's chunks: their own ready chunks only, the most similar first."""

import asyncio

import pytest
from django.db import connection

from documents import selectors
from documents.models import Chunk, Document

pytestmark = pytest.mark.django_db

GARDEN = "Tomatoes need six hours of sun a day and deep watering twice a week."
TAXES = "The tax return is due on the fifteenth of April; late filing costs a penalty."
BOATS = "A sloop has one mast; a ketch has two, the shorter one aft of the main."


@pytest.fixture
def library(make_user, indexed):
    """Ada has three one-chunk documents, Bob one about the same garden."""
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    for name, text in (("garden.txt", GARDEN), ("taxes.md", TAXES), ("boats.txt", BOATS)):
        indexed(ada, text, name=name)
    indexed(bob, GARDEN + " Bob's own notes.", name="bob.txt")
    return ada, bob


def test_the_most_similar_passage_comes_first_with_its_document(library):
    ada, _ = library
    passages = selectors.search_passages(ada.pk, "When must I file my taxes?", limit=3)
    assert passages[0].title == "taxes.md"
    best = passages[0]
    chunk = Chunk.objects.get(pk=best.chunk_id)
    assert (best.document_id, best.text) == (str(chunk.document_id), TAXES)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert 0.3 < best.score <= 1.0


def test_only_the_persons_own_chunks_are_searched(library):
    ada, bob = library
    bobs = selectors.search_passages(bob.pk, "how much sun do tomatoes need", limit=10)
    assert {p.title for p in bobs} == {"bob.txt"}
    adas = selectors.search_passages(ada.pk, "how much sun do tomatoes need", limit=10)
    assert "bob.txt" not in {p.title for p in adas}
    assert len(adas) == 3


def test_chunks_of_a_document_not_ready_are_never_returned(library):
    ada, _ = library
    Document.objects.filter(owner=ada, title="garden.txt").update(status=Document.Status.FAILED)
    titles = {p.title for p in selectors.search_passages(ada.pk, "tomatoes", limit=10)}
    assert titles == {"taxes.md", "boats.txt"}


def test_hnsw_scans_go_on_until_enough_rows_pass_the_persons_filter():
    """Where Postgres scans the HNSW index (a person with a fair share of all chunks: `make
    bench-documents` shows it), a plain scan would stop after ef_search candidates, mostly
    other people's; Django's connections scan iteratively (settings.database_settings)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW hnsw.iterative_scan")
        assert cursor.fetchone() == ("relaxed_order",)


def test_a_person_without_ready_documents_gets_nothing_and_costs_no_embedding(
    make_user, django_assert_num_queries
):
    nobody = make_user("new@example.com")
    with django_assert_num_queries(1):
        assert selectors.search_passages(nobody.pk, "anything") == []
    assert selectors.has_ready_documents(nobody.pk) is False


def test_has_ready_documents(library):
    ada, _ = library
    assert selectors.has_ready_documents(ada.pk) is True


def test_a_citation_may_name_only_the_persons_chunks(library):
    ada, bob = library
    adas = Chunk.objects.filter(owner=ada).values_list("pk", flat=True)
    bobs = Chunk.objects.filter(owner=bob).values_list("pk", flat=True)
    found = selectors.chunks_of(ada.pk, [*adas, *bobs])
    assert set(found.values_list("pk", flat=True)) == set(adas)


@pytest.mark.django_db(transaction=True)
def test_passages_for_turn_are_the_search_and_a_failure_is_no_passages(library, monkeypatch):
    ada, _ = library
    found = asyncio.run(selectors.passages_for_turn(ada.pk, "two masts", limit=1))
    assert [p.text for p in found] == [BOATS]

    def broken():
        raise RuntimeError("the embedder is gone")

    monkeypatch.setattr(selectors, "embedder", broken)
    assert asyncio.run(selectors.passages_for_turn(ada.pk, "two masts")) == []
