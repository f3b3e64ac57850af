"""Fixtures of the local model server's tests: the REAL 0.5B test model behind one server."""

import httpx
import pytest

from devtools.llmservers.local import running_local_server


@pytest.fixture(scope="session")
def local_llm():
    from devtools.llmservers.local import TEST_SPEC, local_model_path

    with running_local_server(  # temperature 0 unless a test asks: repeatable answers
        local_model_path(TEST_SPEC), model_name="qwen-test", n_ctx=2048, default_temperature=0.0
    ) as handle:
        yield handle


@pytest.fixture
def llm_client(local_llm):
    with httpx.Client(base_url=local_llm.base_url, timeout=180) as client:
        yield client
