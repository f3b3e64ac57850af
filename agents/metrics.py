"""Prometheus metrics of chat turns (the model ring has its own in agents/llm/metrics.py)."""

from prometheus_client import Counter, Gauge

turns = Counter("chat_turns_total", "Chat turns by final status", ["status"])
turns_active = Gauge("chat_turns_active", "Chat turns running now")
