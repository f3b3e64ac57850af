"""`make bench-chat`: 10, 50 and 200 concurrent chat streams against the real ASGI server,
people chatting continuously or (`--burst`) all sending one turn at the same moment."""

import os
import time

import psutil
from django.core.management.base import BaseCommand
from django.db import connections
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from agents import services
from agents.graph import registry
from agentsite import pg
from devtools.benchmarks import chat_streams, processes
from devtools.llmservers.simulator import spawned_simulator

SIZES = (10, 50, 200)


class Command(BaseCommand):
    help = "Measure what agentsite adds to time to first token and token gaps under load."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seconds", type=float, default=15.0, help="per N")
        parser.add_argument(
            "--workers",
            type=int,
            default=psutil.cpu_count() or 1,
            help="uvicorn workers (default: one per core, as `make dev` and production run)",
        )
        parser.add_argument(
            "--burst",
            action="store_true",
            help="N people send one turn each at the same moment (default: chat continuously)",
        )
        parser.add_argument(
            "--floor",
            action="store_true",
            help="serve devtools/benchmarks/io_floor.py instead: only a turn's I/O, no app",
        )
        parser.add_argument(
            "--agent",
            default="general",
            choices=registry.names(),
            help="the sessions' agent (default general: one model call a turn; auto adds the "
            "supervisor's routing call before it)",
        )
        parser.add_argument(
            "--sizes",
            type=lambda text: [int(n) for n in text.split(",")],
            default=SIZES,
            help="numbers of concurrent clients, comma separated (default 10,50,200)",
        )

    def handle(self, *args, port, seconds, sizes, workers, burst, agent, floor, **options):
        clients = self._clients(5 + sum(sizes), agent)
        sim_args = ["--ttft-ms", str(int(chat_streams.SIM_TTFT_S * 1000))]
        sim_args += ["--tokens-per-s", str(chat_streams.SIM_TOKENS_PER_S)]
        sim_args += ["--reply-tokens", str(chat_streams.SIM_TOKENS)]
        with (
            spawned_simulator(*sim_args) as llm_url,
            self._server(port, llm_url, workers, floor) as server,
        ):
            figures = chat_streams.run(port, server.pid, clients, sizes, seconds, burst=burst)
        served = "the I/O floor (no app)" if floor else f"sessions' agent: {agent}"
        self.stdout.write(
            f"simulator: TTFT {chat_streams.SIM_TTFT_S * 1000:.0f} ms, "
            f"{chat_streams.SIM_TOKENS_PER_S} tokens/s, {chat_streams.SIM_TOKENS} tokens; "
            f"server: uvicorn, {workers} worker(s); "
            f"{served}; "
            f"{'burst: N turns at once' if burst else f'continuous, {seconds:.0f} s per N'}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for size, row in zip(sizes, figures, strict=True):
            row["clients"] = size
            self.stdout.write(
                f"  N={row['clients']:4d}: {row['streams']:4d} streams counted, "
                f"complete {row['complete_pct']:.1f}%, "
                f"added TTFT p50 {row['added_ttft_ms_p50']:.1f} ms "
                f"p95 {row['added_ttft_ms_p95']:.1f} ms "
                f"p99 {row['added_ttft_ms_p99']:.1f} ms, "
                f"added gap p95 {row['added_gap_ms_p95']:.1f} ms, "
                f"server CPU {row['server_cpu_ms_per_stream']:.1f} ms/stream, "
                f"wall {row['wall_s']:.1f} s, "
                f"peak RSS {row['server_peak_rss_mb']:.0f} MB"
            )
            for error in row["errors"]:
                self.stdout.write(f"      error: {error}")

    def _clients(self, count: int, agent: str) -> list[tuple[str, str]]:
        """A person and a fresh session per stream (so no stream waits for another's turn)."""
        stamp = int(time.time())
        clients = []
        for n in range(count):
            user = User.objects.create_user(f"bench-{stamp}-{n}@example.com", None)
            session = services.create_session(owner=user, title="bench", agent=agent)
            clients.append((str(session.pk), str(RefreshToken.for_user(user).access_token)))
        return clients

    def _server(self, port: int, llm_url: str, workers: int, floor: bool):
        env = {
            **os.environ,
            "DATABASE_URL": pg.url(connections["default"].settings_dict),
            "LLM_BASE_URL": llm_url,
            "LOG_LEVEL": "WARNING",
            "DB_POOL_MAX": "40",
        }
        app = "devtools.benchmarks.io_floor:application" if floor else "agentsite.asgi:application"
        return processes.uvicorn(port, env, "--backlog", "1024", "--workers", str(workers), app=app)
