"""Mem0's memory table, seen by Django (admin, the API's list, deletes in one transaction).

Unmanaged: Mem0 writes the rows (`id`, `vector`, `payload`); migration 0002 creates the table
with its indexes so nothing is made at run time. A mirror would need keeping in step with every
Mem0 write; reading the one table cannot drift.
"""

from datetime import datetime

from django.db import models
from django.db.models.fields.json import KT


class MemoryQuerySet(models.QuerySet):
    def owned_by(self, user_id) -> "MemoryQuerySet":
        """One person's memories; `payload->>'user_id'` is what the per-person index covers."""
        return self.alias(owner=KT("payload__user_id")).filter(owner=str(user_id))

    def from_message(self, message_id) -> "MemoryQuerySet":
        return self.alias(source=KT("payload__source_message_id")).filter(source=str(message_id))

    def newest_first(self) -> "MemoryQuerySet":
        return self.alias(updated=KT("payload__updated_at")).order_by("-updated", "id")


class Memory(models.Model):
    """One fact a person told the agent, as Mem0 stores it (the vector is not mapped)."""

    id = models.UUIDField(primary_key=True)
    payload = models.JSONField(default=dict)

    objects = MemoryQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "memories"
        verbose_name_plural = "memories"

    def __str__(self):
        return self.text[:80]

    @property
    def text(self) -> str:
        return self.payload.get("data", "")

    @property
    def user_id(self) -> str:
        return self.payload.get("user_id", "")

    @property
    def source_session_id(self) -> str:
        return self.payload.get("source_session_id", "")

    @property
    def created_at(self) -> datetime | None:
        return _timestamp(self.payload.get("created_at"))

    @property
    def updated_at(self) -> datetime | None:
        return _timestamp(self.payload.get("updated_at") or self.payload.get("created_at"))


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
