"""A small OTLP/HTTP trace receiver for tests: decodes each POST /v1/traces body
(ExportTraceServiceRequest, protobuf, optionally gzip) with PyPI opentelemetry-proto and
appends one JSON line per span to the output file. Prints its port on the first line.

usage: otlp_receiver.py OUTPUT.jsonl [PORT] [--count-only] [--refuse N]
  --count-only: decode every request but write only the running count of spans (benchmarks).
  --refuse N: answer the first N requests 503 (a collector that is briefly unavailable) without
    recording them; OUTPUT.refused holds how many were refused so far.
Each span's line also holds the request's `authorization` and `x-*` headers ("headers").
"""
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

arguments = [a for a in sys.argv[1:] if a != "--count-only"]
count_only = "--count-only" in sys.argv
refuse = 0
if "--refuse" in arguments:
    at = arguments.index("--refuse")
    refuse = int(arguments[at + 1])
    del arguments[at:at + 2]
refused = 0
output_path = arguments[0]
write_lock = Lock()
received = 0


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(any_value, kind)
    if kind == "array_value":
        return [value_of(v) for v in value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.values}
    if kind == "bytes_value":
        return value.hex()
    return value


def attributes(items):
    return {kv.key: value_of(kv.value) for kv in items}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding", "") == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/traces" or "protobuf" not in self.headers.get("Content-Type", ""):
            self.send_response(415 if self.path == "/v1/traces" else 404)
            self.end_headers()
            return
        global refused
        with write_lock:
            refusing = refused < refuse
            if refusing:
                refused += 1
                with open(output_path + ".refused", "w") as out:
                    out.write(str(refused))
        if refusing:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() == "authorization" or k.lower().startswith("x-")}
        if count_only:
            global received
            with write_lock:
                received += sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)
                with open(output_path, "w") as out:
                    out.write(str(received))
            self.reply()
            return
        lines = []
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "trace_state": span.trace_state,
                        "name": span.name,
                        "kind": span.kind,
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "attributes": attributes(span.attributes),
                        "links": [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()} for link in span.links],
                        "event_attributes": [attributes(event.attributes) for event in span.events],
                        "status": {"code": span.status.code, "message": span.status.message},
                        "events": [event.name for event in span.events],
                        "resource": resource,
                        "headers": headers,
                        "content_encoding": self.headers.get("Content-Encoding", ""),
                    }, sort_keys=True))
        with write_lock, open(output_path, "a") as out:
            for line in lines:
                out.write(line + "\n")
        self.reply()

    def reply(self):
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(arguments[1]) if len(arguments) > 1 else 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
