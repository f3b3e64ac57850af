"""`make bench-llm`: the ring's overhead over a bare client, and the local model's tokens/s."""

from django.core.management.base import BaseCommand

from agents.benchmarks import ring_overhead


class Command(BaseCommand):
    help = "Measure the model ring's overhead against the LLM simulator."

    def add_arguments(self, parser):
        parser.add_argument("--calls", type=int, default=300)
        parser.add_argument("--streams", type=int, default=30)

    def handle(self, *args, calls, streams, **options):
        figures = ring_overhead.run(calls=calls, streams=streams)
        self.stdout.write("model ring vs bare ChatOpenAI (simulator, no simulated latency)")
        for name, value in figures.items():
            self.stdout.write(f"  {name:32s} {value:10.2f}")
