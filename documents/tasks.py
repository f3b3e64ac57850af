"""Background work of documents (thin Celery wrappers around services)."""

from celery import shared_task

from documents import services


@shared_task(acks_late=True)
def parse_document(document_id: str) -> str:
    """Chunk and embed an uploaded document. No retries: a failure is written on the document
    (`failed`, with the reason) for the person to see; a worker lost mid-parse hands the task
    to another (acks_late), which finds the document still `processing` and starts over."""
    return services.parse_document(document_id)
