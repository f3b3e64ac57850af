"""The embedded stack on throwaway data roots and free ports: never the dev/test servers.

Plain pytest (no Django, no DB fixtures); run with `-p no:django`. The running stack lives in a
mode-0700 temp dir under the project's .data/, so as root the `agentsite` user needs an ACL
grant to reach it. Not under pytest's tmp_path: every new pytest session strips group bits from
/tmp/pytest-of-<user>, which masks ACL grants and kills a Postgres running below it.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from devtools.stack import PortInUseError, ServerStartError, Stack, process
from devtools.stack import stack as stack_module
from devtools.stack.valkey import ValkeyServer

AS_ROOT = os.geteuid() == 0

pytestmark = pytest.mark.processes  # most of these start Postgres and Valkey of their own


def free_ports(n: int) -> list[int]:
    """Distinct ports nobody listens on right now (all bound at once so they differ)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def wait_dead(pid: int) -> None:
    assert process.wait_until(lambda: not process.pid_alive(pid), timeout=15), pid


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Replaces the root conftest's Redis cache reset: these tests use neither Django nor the
    test profile's Redis (and must pass under `-p no:django`)."""
    return


@pytest.fixture(scope="module")
def stack():
    data_dir = process.mkdir(stack_module.PROJECT_ROOT / ".data")
    tmp = Path(tempfile.mkdtemp(prefix="embedded-test-", dir=data_dir))
    data_root = tmp / "data"
    ancestors = {p: p.stat().st_mode for p in data_root.parents}
    pg_port, valkey_port = free_ports(2)
    s = Stack(data_root, pg_port, valkey_port)
    s.ancestor_modes = ancestors  # for the root test: modes before any ACL grant
    try:
        yield s
    finally:
        with contextlib.suppress(Exception):
            s.stop()
        for server in s.servers:  # stop failed or never got that far: don't leak daemons
            if pid := server.pid():
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def test_profiles_have_their_own_folders():
    dev, test = Stack.for_profile("dev"), Stack.for_profile("test")
    root = Path(stack_module.__file__).resolve().parents[2] / ".data"
    assert dev.postgres.data_dir == root / "postgres"
    assert test.valkey.data_dir == root / "test" / "valkey"
    assert {dev.postgres.port, dev.valkey.port}.isdisjoint({test.postgres.port, test.valkey.port})
    with pytest.raises(ValueError, match="unknown profile"):
        Stack.for_profile("prod")


def test_ports_default_and_can_move(monkeypatch):
    monkeypatch.delenv("EMBEDDED_TEST_POSTGRES_PORT", raising=False)
    assert stack_module._port("EMBEDDED_TEST_POSTGRES_PORT", 55433) == 55433
    monkeypatch.setenv("EMBEDDED_TEST_POSTGRES_PORT", "55999")
    assert stack_module._port("EMBEDDED_TEST_POSTGRES_PORT", 55433) == 55999


def import_settings(data_root: Path, **env: str) -> None:
    """Import the dev and test settings in a fresh interpreter whose stack lives in data_root."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environment.update(EMBEDDED_DATA_ROOT=str(data_root), SECRET_KEY="dev-" + "k" * 60, **env)
    subprocess.run(
        [sys.executable, "-c", "import agentsite.settings.dev, agentsite.settings.test"],
        cwd=stack_module.PROJECT_ROOT,
        env=environment,
        check=True,
        timeout=60,
    )


def test_settings_given_urls_leave_the_stack_alone(tmp_path):
    urls = {"DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1/0"}
    import_settings(tmp_path, **urls)
    assert list(tmp_path.iterdir()) == []
    import_settings(tmp_path)  # without them, the settings do use this data root
    assert (tmp_path / "postgres.password").is_file()
    assert (tmp_path / "test" / "postgres.password").is_file()


def test_urls_without_starting(tmp_path):
    s = Stack(tmp_path / "data", *free_ports(2))
    url = s.postgres.url()
    assert url.startswith("postgres://agentsite:")
    assert url.endswith(f"@127.0.0.1:{s.postgres.port}/agentsite")
    assert s.postgres.url() == url  # password generated once
    assert stat.S_IMODE(s.postgres.password_file.stat().st_mode) == 0o600
    assert s.valkey.url() == f"redis://127.0.0.1:{s.valkey.port}/0"
    assert not any(info["running"] for info in s.status().values())


def test_start_twice_is_harmless(stack):
    urls = stack.ensure_running()
    first = stack.status()
    assert stack.ensure_running() == urls
    second = stack.status()
    assert first == second
    for name, server in (("postgres", stack.postgres), ("valkey", stack.valkey)):
        assert second[name]["running"]
        assert second[name]["pid"]
        assert second[name]["port"] == server.port
        assert second[name]["data_dir"] == str(server.data_dir)
    assert urls == {"DATABASE_URL": stack.postgres.url(), "REDIS_URL": stack.valkey.url()}


def test_postgres_restarts_after_kill_9(stack):
    stack.ensure_running()
    old = stack.postgres.pid()
    os.kill(old, signal.SIGKILL)
    wait_dead(old)
    assert not stack.status()["postgres"]["running"]

    urls = stack.ensure_running()
    assert stack.postgres.pid() not in (None, old)
    with psycopg.connect(urls["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        distance = conn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector").fetchone()[0]
        assert distance == 1
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW unix_socket_directories").fetchone()[0] == ""
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("18")


def test_valkey_restarts_after_kill_9(stack):
    urls = stack.ensure_running()
    client = redis.Redis.from_url(urls["REDIS_URL"])
    client.set("survives", "kill -9")  # appended to the AOF before the reply
    old = stack.valkey.pid()
    os.kill(old, signal.SIGKILL)
    wait_dead(old)
    assert not stack.status()["valkey"]["running"]

    stack.ensure_running()
    assert stack.valkey.pid() not in (None, old)
    client = redis.Redis.from_url(urls["REDIS_URL"], decode_responses=True)
    assert client.get("survives") == "kill -9"
    client.set("k", "v")
    assert client.get("k") == "v"
    assert client.config_get("appendonly") == {"appendonly": "yes"}


def test_failed_postgres_start_shows_log_tail(stack):
    stack.ensure_running()
    stack.postgres.stop()
    conf = stack.postgres.data_dir / "postgresql.conf"
    good = conf.read_text()
    try:
        conf.write_text(good + "max_connections = lots\n")
        with pytest.raises(ServerStartError, match=r"(?s)postgres\.log \(tail\).*max_connections"):
            stack.ensure_running()
    finally:
        conf.write_text(good)
    stack.ensure_running()


def test_failed_valkey_start_shows_log_tail(tmp_path):
    manifest = tmp_path / "valkey" / "appendonlydir" / "appendonly.aof.manifest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("garbage\n")
    with pytest.raises(ServerStartError, match=r"(?s)valkey\.log \(tail\).*AOF manifest"):
        ValkeyServer(free_ports(1)[0], tmp_path).start()


def test_port_in_use_by_another_process(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        (free,) = free_ports(1)

        with pytest.raises(PortInUseError, match=f"127.0.0.1:{busy} is in use.*DATABASE_URL"):
            Stack(tmp_path / "pg", busy, free).ensure_running()
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{busy} is in use.*REDIS_URL"):
            ValkeyServer(busy, tmp_path / "valkey").start()
    assert not (tmp_path / "pg" / "postgres" / "PG_VERSION").exists()  # failed before initdb


@pytest.mark.skipif(not AS_ROOT, reason="only root hands Postgres to the agentsite user")
def test_as_root_postgres_runs_as_agentsite_without_widening_modes(stack):
    stack.ensure_running()
    user = pwd.getpwnam("agentsite")
    data = stack.postgres.data_dir.stat()
    assert (data.st_uid, stat.S_IMODE(data.st_mode)) == (user.pw_uid, 0o700)
    assert Path(f"/proc/{stack.postgres.pid()}").stat().st_uid == user.pw_uid
    for path, before in stack.ancestor_modes.items():
        after = path.stat().st_mode
        # ACL grants may only show up as the group-class mask (x); owner/other bits untouched.
        assert after & 0o707 == before & 0o707, path
        assert after & 0o070 & ~(before | 0o010) == 0, path


def test_stop_stops(stack):
    stack.ensure_running()
    pids = [server.pid() for server in stack.servers]
    stack.stop()
    for pid in pids:
        wait_dead(pid)
    assert not any(info["running"] for info in stack.status().values())
    assert process.port_free(stack.postgres.port)
    assert process.port_free(stack.valkey.port)
    stack.stop()  # stopping a stopped stack is harmless too
