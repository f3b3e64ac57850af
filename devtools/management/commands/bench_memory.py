"""`make bench-memory`: memory search latency at 1k, 10k and 100k memories over 1,000 people,
the read path's cost on a chat turn, and the add path's throughput (simulator as the LLM)."""

import json
import tempfile

from django.core.management.base import BaseCommand
from django.test import override_settings

from devtools.benchmarks import memory_search as bench
from devtools.llmservers.simulator import spawned_simulator

SIZES = (1_000, 10_000, 100_000)
EXTRACTION = {
    "match": "## New Messages",
    "reply": json.dumps({"memory": [{"id": "0", "text": "User likes green tea"}]}),
}


class Command(BaseCommand):
    help = "Measure memory search latency, the read path's cost and the add path's throughput."

    def add_arguments(self, parser):
        parser.add_argument("--searches", type=int, default=300, help="per size")
        parser.add_argument("--adds", type=int, default=200)
        parser.add_argument("--base-facts", type=int, default=2000, help="distinct texts")

    def handle(self, *args, searches, adds, base_facts, **options):
        bench.clean()
        texts, users = bench.facts(base_facts), bench.people()
        try:
            for size in SIZES:
                bench.load(texts, users, size)
                row = bench.time_searches(users, searches)
                self.stdout.write(
                    f"{size:>7,} memories, {len(users)} people: "
                    f"search p50 {row['search'][0]:.1f} / p95 {row['search'][1]:.1f} ms "
                    f"(without the query's embedding {row['search_without_embedding'][0]:.1f}"
                    f" / {row['search_without_embedding'][1]:.1f} ms); "
                    f"read path p50 {row['read_path'][0]:.1f} / p95 {row['read_path'][1]:.1f}"
                    f" ms; {row['hits_mean']:.1f} of 5 asked found"
                )
            self.stdout.write(f"plan at {SIZES[-1]:,}: {bench.search_plan(users[0])}")
            start = bench.time_turn_start(users, searches)
            self.stdout.write(
                f"turn start at {SIZES[-1]:,} (graph + checkpoint [+ memory search]): "
                f"p50 {start['without'][0]:.1f} -> {start['with'][0]:.1f} ms, "
                f"p95 {start['without'][1]:.1f} -> {start['with'][1]:.1f} ms; "
                f"added p50 {start['added'][0]:.1f} / p95 {start['added'][1]:.1f} ms"
            )
            with tempfile.NamedTemporaryFile("w", suffix=".json") as rules:
                json.dump([EXTRACTION], rules)
                rules.flush()
                with (
                    spawned_simulator("--rules", rules.name) as llm_url,
                    override_settings(LLM_BASE_URL=llm_url),
                ):
                    rate = bench.time_adds(adds)
            self.stdout.write(f"add path: {rate:.1f} memories/s (Mem0 add, one fact each)")
        finally:
            bench.clean()
