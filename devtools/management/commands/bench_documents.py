"""`make bench-documents`: retrieval latency over documents' chunks at 1k and 10k chunks (more
with --sizes) spread over many people, as the researcher agent retrieves; then the largest size
over a few people, where Postgres scans the HNSW index instead of one person's rows."""

from django.core.management.base import BaseCommand

from devtools.benchmarks import document_search as bench


class Command(BaseCommand):
    help = "Measure document retrieval latency (p50/p95) at growing numbers of chunks."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="1000,10000", help="chunk counts, ascending")
        parser.add_argument("--people", type=int, default=bench.PEOPLE)
        parser.add_argument("--few-people", type=int, default=8, help="the last case's")
        parser.add_argument("--searches", type=int, default=300, help="per size")
        parser.add_argument("--base-passages", type=int, default=500, help="distinct texts")

    def handle(self, *args, sizes, people, few_people, searches, base_passages, **options):
        bench.clean()
        texts = bench.passages(base_passages)
        sizes = [int(size) for size in sizes.split(",")]
        try:
            users = bench.people(people)
            for size in sizes:
                bench.load(texts, size)
                self.report(size, users, searches)
            self.stdout.write(f"plan: {bench.search_plan(users[0])}")
            bench.clean()
            few = bench.people(few_people)
            bench.load(texts, sizes[-1])
            self.report(sizes[-1], few, searches)
            self.stdout.write(f"plan: {bench.search_plan(few[0])}")
        finally:
            bench.clean()

    def report(self, size: int, users: list[str], searches: int) -> None:
        row = bench.time_searches(users, searches)
        self.stdout.write(
            f"{size:>7,} chunks, {len(users)} people: "
            f"search p50 {row['search'][0]:.1f} / p95 {row['search'][1]:.1f} ms "
            f"(without the query's embedding {row['search_without_embedding'][0]:.1f}"
            f" / {row['search_without_embedding'][1]:.1f} ms); "
            f"{row['hits_mean']:.1f} of 5 asked found"
        )
