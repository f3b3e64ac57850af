"""Profiles (dev, test: their ports and data roots) and the Stack that runs both servers.

Variables move what two checkouts (say, CI beside a dev tree) would otherwise share: the
EMBEDDED_{DEV,TEST}_{POSTGRES,VALKEY}_PORT ports, and EMBEDDED_DATA_ROOT, the dev data root
(default `<project>/.data`; the test profile uses its `test/` folder).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from .postgres import PostgresServer
from .process import HOST, mkdir
from .valkey import ValkeyServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT = Path(os.environ.get("EMBEDDED_DATA_ROOT") or PROJECT_ROOT / ".data")


@dataclass(frozen=True)
class Profile:
    postgres_port: int
    valkey_port: int
    data_root: Path


def _port(variable: str, default: int) -> int:
    """A profile's port, movable so two checkouts (say, CI beside a dev tree) can both run."""
    return int(os.environ.get(variable) or default)


PROFILES = {
    "dev": Profile(
        _port("EMBEDDED_DEV_POSTGRES_PORT", 55432),
        _port("EMBEDDED_DEV_VALKEY_PORT", 56379),
        DATA_ROOT,
    ),
    "test": Profile(
        _port("EMBEDDED_TEST_POSTGRES_PORT", 55433),
        _port("EMBEDDED_TEST_VALKEY_PORT", 56380),
        DATA_ROOT / "test",
    ),
}


class Stack:
    """Postgres + Valkey sharing one data root; operations are serialized across processes with
    a lock file so parallel test workers can all call `ensure_running`."""

    def __init__(self, data_root: Path, postgres_port: int, valkey_port: int):
        self.data_root = Path(data_root)
        self.postgres = PostgresServer(postgres_port, self.data_root)
        self.valkey = ValkeyServer(valkey_port, self.data_root)

    @classmethod
    def for_profile(cls, profile: str) -> Stack:
        try:
            p = PROFILES[profile]
        except KeyError:
            raise ValueError(
                f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}"
            ) from None
        return cls(p.data_root, p.postgres_port, p.valkey_port)

    @property
    def servers(self) -> tuple[PostgresServer, ValkeyServer]:
        return (self.postgres, self.valkey)

    def urls(self) -> dict:
        return {"DATABASE_URL": self.postgres.url(), "REDIS_URL": self.valkey.url()}

    @contextlib.contextmanager
    def _locked(self):
        mkdir(self.data_root)
        with open(self.data_root / ".stack.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def ensure_running(self) -> dict:
        """Start whatever is not running (first run, stopped, or crashed); harmless if all up."""
        with self._locked():
            for server in self.servers:
                if server.pid() is None:
                    server.start()
            self.postgres.ensure_database()
        return self.urls()

    def stop(self) -> None:
        with self._locked():
            for server in self.servers:
                server.stop()

    def status(self) -> dict:
        return {
            server.name: {
                "running": (pid := server.pid()) is not None,
                "pid": pid,
                "port": server.port,
                "data_dir": str(server.data_dir),
                "log": str(server.log_file),
                "url": server.url(),
            }
            for server in self.servers
        }


# --- public API (used by settings, conftest, the `stack` command and the Makefile) -------------


def database_url(profile: str) -> str:
    """The profile's DATABASE_URL, without starting anything."""
    return Stack.for_profile(profile).postgres.url()


def redis_url(profile: str) -> str:
    """The profile's REDIS_URL, without starting anything."""
    return Stack.for_profile(profile).valkey.url()


def ensure_running(profile: str) -> dict:
    """Start the profile's servers if needed; returns {"DATABASE_URL": ..., "REDIS_URL": ...}."""
    return Stack.for_profile(profile).ensure_running()


def stop(profile: str) -> None:
    Stack.for_profile(profile).stop()


def status(profile: str) -> dict:
    """Per server: running, pid, port, data_dir, log, url."""
    return Stack.for_profile(profile).status()


def format_status(info: dict) -> str:
    lines = []
    for name, s in info.items():
        state = f"running (pid {s['pid']})" if s["running"] else "stopped"
        lines.append(f"{name:<9}{state:<22}{HOST}:{s['port']:<7}{s['data_dir']}")
    return "\n".join(lines)


def format_urls(urls: dict) -> str:
    return "\n".join(f"{key}={value}" for key, value in urls.items())
