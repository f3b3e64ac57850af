"""A local stand-in for Langfuse's HTTP API that records every request it gets, and reads the
OTLP spans of its trace exports back as a tree."""

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

TRACES = "/api/public/otel/v1/traces"
SCORES = "/api/public/scores"
METADATA = "langfuse.observation.metadata."


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root
    name: str
    start_ns: int
    attributes: dict
    children: list["Span"] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.attributes.get("langfuse.observation.type", "")

    @property
    def metadata(self) -> dict:
        """The observation's metadata, each value decoded (the SDK sends them as JSON)."""
        return {
            key.removeprefix(METADATA): json.loads(value)
            for key, value in self.attributes.items()
            if key.startswith(METADATA)
        }

    def usage(self) -> dict:
        return json.loads(self.attributes.get("langfuse.observation.usage_details", "{}"))


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict  # names lower-cased
    body: bytes

    def json(self):
        return json.loads(self.body)

    def spans(self) -> list[Span]:
        """The OTLP spans of a trace export."""
        export = ExportTraceServiceRequest.FromString(self.body)
        return [
            Span(
                trace_id=span.trace_id.hex(),
                span_id=span.span_id.hex(),
                parent_id=span.parent_span_id.hex(),
                name=span.name,
                start_ns=span.start_time_unix_nano,
                attributes={a.key: _value(a.value) for a in span.attributes},
            )
            for resource_spans in export.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]


class FakeLangfuse:
    def __init__(self):
        self.requests: list[Recorded] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorded.append(Recorded("POST", self.path, headers, body))
                if self.path == SCORES:
                    self._answer(202, b'{"message": "Accepted"}', "application/json")
                else:
                    self._answer(200, b"", "application/x-protobuf")

            def _answer(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def spans(self) -> list[Span]:
        """Every span received so far, in the order they were exported."""
        return [span for r in self.requests if r.path == TRACES for span in r.spans()]

    def scores(self) -> list[dict]:
        return [score for r in self.requests if r.path == SCORES for score in r.json()]

    def trace(self, trace_id: str) -> Span:
        """The one root of a trace, its spans hung under their parents, children in the order
        they started."""
        spans = [span for span in self.spans() if span.trace_id == trace_id]
        by_id = {span.span_id: span for span in spans}
        roots = []
        for span in spans:
            parent = by_id.get(span.parent_id)
            (parent.children if parent is not None else roots).append(span)
        for span in spans:
            span.children.sort(key=lambda child: child.start_ns)
        [root] = roots
        return root

    def close(self):
        self.server.shutdown()
        self.server.server_close()
