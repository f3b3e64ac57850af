"""LangGraph's checkpoint tables (conversation state of the agent), made by `migrate`.

langgraph-checkpoint-postgres ships its own ordered migrations, some with CREATE INDEX
CONCURRENTLY, which can't run in a transaction: this migration is non-atomic and runs them on
an autocommit connection of its own.
"""

import psycopg
from django.db import migrations

from agentsite import pg


def create_checkpoint_tables(apps, schema_editor):
    from langgraph.checkpoint.postgres import PostgresSaver

    db = schema_editor.connection.settings_dict
    with psycopg.connect(pg.conninfo(db), autocommit=True) as conn:
        PostgresSaver(conn).setup()


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("agents", "0002_chatsession_message")]
    operations = [migrations.RunPython(create_checkpoint_tables, migrations.RunPython.noop)]
