"""A development SECRET_KEY that is random per checkout and survives restarts."""

import secrets
from pathlib import Path


def dev_secret_key(path: Path) -> str:
    """Read the key from `path`, creating it (mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.touch(mode=0o600)
        path.write_text(key)
        return key
