"""``manage.py llm_simulator``: run the LLM simulator (a thin wrapper over the module).

Same arguments as ``python -m devtools.llmservers.simulator`` (both come from
:func:`devtools.llmservers.simulator.add_arguments`), e.g.::

    python manage.py llm_simulator --port 8800 --ttft-ms 300 --tokens-per-s 50 --reply-tokens 150 \\
        --rules rules.json --fault gpt-4o:status_429:2 --fault "*:break_after_tokens:5"

``--base-rules agents/tests/simulator_rules.json`` gives it agentsite's tool calls and judge
verdicts, as in the tests (a load test's "what is 12*7?" then calls the calculator).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devtools.llmservers import simulator


class Command(BaseCommand):
    help = "Run the OpenAI-compatible LLM simulator (tests and load tests)."

    def add_arguments(self, parser: CommandParser) -> None:
        simulator.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = simulator.config_from_options(options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"LLM simulator on http://{config.host}:{config.port}/v1")
        simulator.serve(config, log_level=options["log_level"])
