"""Postgres refuses to run as root, so as root it runs as the system user `agentsite`, which is
given traverse rights on the folders it needs through ACLs (never by widening mode bits)."""

import contextlib
import os
import pwd
import shutil
from pathlib import Path

from .errors import StackError
from .process import run

SERVICE_USER = "agentsite"  # system user that runs Postgres when we are root


class ServiceUser:
    """The unprivileged account that runs Postgres when we are root, and the ACL grants that
    let it reach its data directory and the binaries inside the (maybe private) venv."""

    def __init__(self, name: str = SERVICE_USER):
        self.name = name

    def ensure_exists(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(self.name)
        except KeyError:
            run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
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
        return run(self.command(cmd), cwd="/", **kwargs)

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
            run([_setfacl(), "-m", f"u:{self.name}:x", str(blocked)], timeout=10)
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
            run(install, env=env, timeout=300)
        except StackError:
            with contextlib.suppress(StackError):
                run(["apt-get", "update"], env=env, timeout=300)
                run(install, env=env, timeout=300)
    if path := shutil.which("setfacl"):
        return path
    raise StackError(
        f"setfacl is needed to let user {SERVICE_USER!r} reach the Postgres data directory; "
        "install the 'acl' package (apt-get install acl)"
    )
