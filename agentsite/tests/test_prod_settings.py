"""prod settings refuse unsafe values by name, and pass `check --deploy` when set properly."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DJANGO_SETTINGS_MODULE": "agentsite.settings.prod",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "agentsite.example.com",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/agentsite",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in GOOD and k != "DEBUG"}
    environment.update({k: v for k, v in {**GOOD, **env}.items() if v is not None})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "true"}, "refuse DEBUG"),
        ({"SECRET_KEY": None}, "need SECRET_KEY"),
        ({"SECRET_KEY": "short-key"}, "too short"),
        ({"SECRET_KEY": "change-me-" + "x" * 60}, "placeholder"),
        ({"SECRET_KEY": "django-insecure-" + secrets.token_urlsafe(60)}, "placeholder"),
        ({"SECRET_KEY": "a" * 80}, "too short or too simple"),
        ({"ALLOWED_HOSTS": None}, "need ALLOWED_HOSTS"),
    ],
)
def test_unsafe_settings_are_refused_by_name(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr
