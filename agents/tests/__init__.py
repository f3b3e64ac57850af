from pathlib import Path

# agentsite's rules for the LLM simulator, the base rules of every simulator a test starts for
# the agent or the judges: arithmetic asks call `calculator`, time asks `current_time`, and a
# judge's prompt (a system prompt asking for JSON with a score) gets a passing verdict.
SIMULATOR_RULES = Path(__file__).with_name("simulator_rules.json")
