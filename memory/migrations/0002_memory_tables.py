"""Mem0's tables, made here rather than by Mem0 at run time: the memories (HNSW on the vector,
a per-person index, the keyword index Mem0's hybrid search uses) and its entity links.

The per-person index matters: with only HNSW, a filtered search takes the nearest rows of
everyone and filters after, so a person with few memories among many gets few or none back.
With it, the planner reads that person's rows and ranks them exactly.
"""

from django.conf import settings
from django.db import migrations, models

TABLES = ("memories", "memories_entities")


def create_tables(apps, schema_editor):
    dims = int(settings.EMBEDDINGS_DIMS)
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {table} "
                f"(id uuid PRIMARY KEY, vector vector({dims}), payload jsonb)"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_hnsw_idx ON {table} "
                "USING hnsw (vector vector_cosine_ops)"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_user_idx ON {table} ((payload->>'user_id'))"
            )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS memories_text_lemmatized_idx ON memories "
            "USING gin (to_tsvector('simple', payload->>'text_lemmatized'))"
        )


def drop_tables(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


class Migration(migrations.Migration):
    dependencies = [("memory", "0001_vector_extension")]

    operations = [
        migrations.RunPython(create_tables, drop_tables),
        migrations.CreateModel(
            name="Memory",
            fields=[
                ("id", models.UUIDField(primary_key=True, serialize=False)),
                ("payload", models.JSONField(default=dict)),
            ],
            options={
                "verbose_name_plural": "memories",
                "db_table": "memories",
                "managed": False,
            },
        ),
    ]
