"""A producer as a user writes one with the OpenTelemetry Python SDK: it starts a PRODUCER span
"send <queue>", puts the W3C context into the job envelope (traceparent, tracestate), RPUSHes the
job with redis-py, ends the span and exports it over OTLP/HTTP. Prints
{"trace_id", "span_id", "traceparent"} as JSON.

usage: traced_producer.py REDIS_URL INBOX_KEY JOB_JSON OTLP_ENDPOINT [--sampled 0|1] [--tracestate TEXT]
"""
import argparse
import json
import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mw_redis  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("redis_url")
parser.add_argument("inbox_key")
parser.add_argument("job")
parser.add_argument("endpoint")
parser.add_argument("--sampled", default="1")
parser.add_argument("--tracestate", default="")
args = parser.parse_args()

provider = TracerProvider(sampler=ALWAYS_ON if args.sampled == "1" else ALWAYS_OFF,
                          resource=Resource.create({"service.name": "test-producer"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=args.endpoint.rstrip("/") + "/v1/traces")))
tracer = provider.get_tracer("test-producer")

job = json.loads(args.job)
queue = args.inbox_key.split("{")[-1].split("}")[0]
with tracer.start_as_current_span(f"send {queue}", kind=trace.SpanKind.PRODUCER,
                                  attributes={"messaging.system": "mediaworker", "messaging.destination.name": queue}) as span:
    carrier = {}
    TraceContextTextMapPropagator().inject(carrier)
    if "traceparent" not in carrier:
        # A sampled-out span still has a context; the SDK's propagator writes it only when valid.
        context = span.get_span_context()
        carrier["traceparent"] = f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    if args.tracestate:
        carrier["tracestate"] = args.tracestate
    job.update(carrier)
    mw_redis.connect(args.redis_url).rpush(args.inbox_key, json.dumps(job))
    context = span.get_span_context()
provider.force_flush()
provider.shutdown()
print(json.dumps({"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}", "traceparent": job["traceparent"]}))
