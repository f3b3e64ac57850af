"""``manage.py serve_local_llm``: serve the embedded local model (a thin wrapper over the module).

Same arguments as ``python -m devtools.llmservers.local`` (both come from
:func:`devtools.llmservers.local.add_arguments`), e.g.::

    python manage.py serve_local_llm --port 8800
    python manage.py serve_local_llm --spec qwen2.5-coder-0.5b --n-ctx 4096
    python manage.py serve_local_llm --model-path /models/other.gguf --model-name other
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devtools.llmservers import local


class Command(BaseCommand):
    help = "Serve the embedded local LLM (llama.cpp) over the OpenAI chat-completions protocol."

    def add_arguments(self, parser: CommandParser) -> None:
        local.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(
            f"Local LLM on http://{options['host']}:{options['port']}/v1 (loading the model...)"
        )
        try:
            local.run_from_options(options)
        except (local.LocalModelError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
