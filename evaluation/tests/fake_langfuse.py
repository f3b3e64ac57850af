"""A local stand-in for Langfuse's HTTP API that records every request it gets."""

import gzip
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict  # names lower-cased
    body: bytes

    def json(self):
        return json.loads(self.body)

    def spans(self) -> list:
        """The OTLP spans of a trace export, each as (trace id hex, name, {attribute: value})."""
        export = ExportTraceServiceRequest.FromString(self.body)
        found = []
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {
                        a.key: getattr(a.value, a.value.WhichOneof("value"))
                        for a in span.attributes
                    }
                    found.append((span.trace_id.hex(), span.name, attributes))
        return found


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
                if self.path == "/api/public/scores":
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

    def close(self):
        self.server.shutdown()
        self.server.server_close()
