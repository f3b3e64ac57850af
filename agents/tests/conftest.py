"""The LLM simulator for the agents tests: one server per session, faults reset per test."""

import pytest

from agents.llm.simulator import SimulatorConfig, running_simulator


@pytest.fixture(scope="session")
def simulator():
    """Instant answers of 8 token pieces; tests add latency or faults when they need them."""
    with running_simulator(SimulatorConfig(ttft_ms=0, tokens_per_s=0, reply_tokens=8)) as sim:
        yield sim


@pytest.fixture
def llm(simulator, settings):
    """Point the ring at the simulator (sim-primary, then sim-fallback) with clean faults."""
    simulator.reset()
    simulator.clear_faults()
    settings.LLM_BASE_URL = simulator.base_url
    yield simulator
    simulator.clear_faults()
