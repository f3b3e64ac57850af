"""Connection strings for code that talks to Postgres beside the ORM (health probe, LangGraph
checkpoints, migrations, test and benchmark servers), from Django's own database settings."""

from psycopg.conninfo import make_conninfo


def conninfo(db: dict) -> str:
    """libpq key=value form of a Django DATABASES entry (or a connection's settings_dict)."""
    return make_conninfo(
        host=db["HOST"],
        port=str(db["PORT"] or 5432),
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
    )


def url(db: dict) -> str:
    """The same as a DATABASE_URL, for a child process."""
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    )
