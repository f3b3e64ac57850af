"""`make bench-llm`: the ring's overhead over a bare client, and the local model's tokens/s."""

from django.core.management.base import BaseCommand

from devtools.benchmarks import local_model as local_model_bench
from devtools.benchmarks import ring_overhead


class Command(BaseCommand):
    help = "Measure the model ring's overhead against the LLM simulator."

    def add_arguments(self, parser):
        parser.add_argument("--calls", type=int, default=300)
        parser.add_argument("--streams", type=int, default=30)
        parser.add_argument("--spec", default="qwen2.5-coder-1.5b", help="'' skips the local model")

    def handle(self, *args, calls, streams, spec, **options):
        self._table(
            "model ring vs bare ChatOpenAI (simulator, no simulated latency)",
            ring_overhead.run(calls=calls, streams=streams),
        )
        if spec:
            figures = local_model_bench.run(spec, tokens=200)
            summary = {k: v for k, v in figures.items() if not k.endswith("_runs")}
            self._table(f"local model {spec}: our server vs llama-cpp-python directly", summary)

    def _table(self, title: str, figures: dict):
        self.stdout.write(title)
        for name, value in figures.items():
            shown = f"{value:10.2f}" if isinstance(value, float) else f"{value!s:>10}"
            self.stdout.write(f"  {name:32s} {shown}")
