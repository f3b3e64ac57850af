"""Schemathesis against a live server: the OpenAPI schema says what the server does.

Every check (status codes, content types, headers, response bodies, valid data accepted,
invalid data refused, unsupported methods...) as an ordinary person and as staff (the
evaluation operations). `make test` runs a bounded subset (the fuzzing phase, a few examples
per operation); `make fuzz` runs every phase with FUZZ_MAX_EXAMPLES and prints the figures.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from devtools.testing import bearer

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "6"))
PHASES = os.environ.get("FUZZ_PHASES", "fuzzing")
# Deleting the account would leave the rest of the run unauthenticated (tested in accounts).
NOT_FUZZED = ("--exclude-operation-id", "auth_me_destroy")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")  # per-operation settings, with reasons


@pytest.fixture
def server(asgi_server, llm):
    """Limits a fuzzer would hit in seconds are lifted; everything else as in production."""
    return asgi_server(
        env={
            "LLM_BASE_URL": llm.base_url,
            "RATE_LIMIT_REGISTER": "1000000/m",
            "RATE_LIMIT_TOKEN": "1000000/m",
            "RATE_LIMIT_USER": "1000000/m",
            "RATE_LIMIT_PASSWORD_RESET": "1000000/m",
            "LOGIN_FREE_FAILURES_ACCOUNT": "1000000",
            "LOGIN_FREE_FAILURES_IP": "1000000",
            "DAILY_TOKEN_QUOTA": "0",
        }
    )


def fuzz(url: str, authorization: str, report_dir: Path) -> tuple[int, str]:
    """Run schemathesis with every check; (exit code, its output)."""
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{url}/api/v1/schema"]
    command += ["--checks", "all"]
    command += ["--header", f"Authorization: {authorization}", "--url", url]
    command += ["--max-examples", str(MAX_EXAMPLES), "--phases", PHASES, "--workers", "2"]
    command += NOT_FUZZED
    command += ["--report", "junit", "--report-dir", str(report_dir), "--no-color"]
    command += ["--generation-database", "none"]  # each run from scratch, nothing replayed
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False, cwd=report_dir
    )
    output = done.stdout + done.stderr
    (report_dir / "schemathesis.txt").write_text(output)
    return done.returncode, output


def cases_tested(output: str) -> int:
    """The 'N generated' figure of schemathesis' summary."""
    found = re.search(r"(\d+) generated", output)
    return int(found.group(1)) if found else 0


def failures_found(output: str) -> int:
    found = re.search(r"(\d+) found", output)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("role", ["person", "staff"])
def test_the_schema_holds_for_every_generated_request(server, make_user, role, tmp_path):
    person = make_user(email=f"{role}@example.com")
    if role == "staff":
        call_command("make_staff", person.email)
    code, output = fuzz(server.url, bearer(person)["Authorization"], tmp_path)
    cases, failures = cases_tested(output), failures_found(output)
    print(f"\nschemathesis as {role}: {cases} cases, {failures} failures")  # make fuzz's figures
    assert cases > 0, output[-20000:]
    assert code == 0, output[-20000:]
