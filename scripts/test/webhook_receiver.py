#!/usr/bin/env python3
"""A webhook endpoint for tests: verifies every delivery with the Standard Webhooks reference
library (PyPI `standardwebhooks`, written by nobody here) and records it as a JSON line.

    webhook_receiver.py OUT.jsonl --secret whsec_... [--fail-first N] [--retry-after S]
                        [--gone] [--slow S] [--port P]

--fail-first N: the first N deliveries of each event id get 500 (the second with Retry-After
when --retry-after is given), later ones 200. --gone: every delivery gets 410. --slow S: hold
each answer S seconds (a deliverer killed meanwhile never hears it). Every request is also noted
in OUT.arrivals as it arrives (before any hold), so a test can tell a delivery is in flight.
Binds 127.0.0.1 on a free port and prints `listening PORT` once ready.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--retry-after", type=int)
    parser.add_argument("--gone", action="store_true")
    parser.add_argument("--slow", type=float, default=0)
    parser.add_argument("--port", type=int, default=0, help="listen on this port (default: any free one)")
    args = parser.parse_args()
    verifier = Webhook(args.secret)
    seen = {}
    lock = threading.Lock()
    out = open(args.out, "a", buffering=1)
    arrivals = open(args.out + ".arrivals", "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified, error = True, ""
            except WebhookVerificationError as failure:
                verified, error = False, str(failure)
            event = json.loads(body) if body else {}
            webhook_id = headers.get("webhook-id", "")
            with lock:
                seen[webhook_id] = seen.get(webhook_id, 0) + 1
                attempt = seen[webhook_id]
                arrivals.write(json.dumps({"webhook_id": webhook_id, "attempt": attempt}) + "\n")
            if not verified:
                status = 401
            elif args.gone:
                status = 410
            elif attempt <= args.fail_first:
                status = 500 if attempt == 1 or args.retry_after is None else 503
            else:
                status = 200
            if args.slow:
                time.sleep(args.slow)
            record = {"webhook_id": webhook_id, "type": event.get("type"), "job_id": event.get("job_id"),
                      "event_id": event.get("event_id"), "attempt": attempt, "verified": verified, "error": error,
                      "status": status, "at": time.time(), "timestamp": headers.get("webhook-timestamp"),
                      "signature": headers.get("webhook-signature")}
            with lock:
                out.write(json.dumps(record) + "\n")
            self.send_response(status)
            if status == 503 and args.retry_after is not None:
                self.send_header("Retry-After", str(args.retry_after))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    # A listen backlog of 5 (the default) drops connections a deliverer opens at once: they come
    # back after a second of SYN retries and make deliveries look slow.
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
