"""`make bench-documents`: retrieval latency over documents' chunks at 1k and 10k chunks (more
with --sizes) spread over many people, as the researcher agent retrieves."""

from django.core.management.base import BaseCommand

from devtools.benchmarks import document_search as bench


class Command(BaseCommand):
    help = "Measure document retrieval latency (p50/p95) at growing numbers of chunks."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="1000,10000", help="chunk counts, ascending")
        parser.add_argument("--people", type=int, default=bench.PEOPLE)
        parser.add_argument("--searches", type=int, default=300, help="per size")
        parser.add_argument("--base-passages", type=int, default=500, help="distinct texts")

    def handle(self, *args, sizes, people, searches, base_passages, **options):
        bench.clean()
        try:
            users = bench.people(people)
            texts = bench.passages(base_passages)
            for size in (int(size) for size in sizes.split(",")):
                bench.load(texts, size)
                row = bench.time_searches(users, searches)
                self.stdout.write(
                    f"{size:>7,} chunks, {len(users)} people: "
                    f"search p50 {row['search'][0]:.1f} / p95 {row['search'][1]:.1f} ms "
                    f"(without the query's embedding {row['search_without_embedding'][0]:.1f}"
                    f" / {row['search_without_embedding'][1]:.1f} ms); "
                    f"{row['hits_mean']:.1f} of 5 asked found"
                )
            self.stdout.write(f"plan: {bench.search_plan(users[0])}")
        finally:
            bench.clean()
