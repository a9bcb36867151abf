#!/usr/bin/env python3
"""An HTTP proxy that injects faults between a client and one upstream server (moto), for tests.

usage: fault_proxy.py LISTEN_PORT UPSTREAM_HOST:UPSTREAM_PORT

Requests are forwarded as they came (the Host header too, so SigV4 signatures stay valid) unless
a rule matches. Rules are set with `POST /__fault__/rules` (a JSON list; replaces the rules):

  {"method": "PUT", "path": "regex", "query": "regex",   # what to match (all optional)
   "after": 0,        # let this many matching requests through first
   "times": 1,        # then act on this many (-1: every one after)
   "action": "fail" | "status" | "stall" | "drop" | "drop_after" | "stall_after",
   "status": 503,     # for fail/status: the answer sent instead of forwarding
   "seconds": 5}      # for stall (before forwarding) and stall_after (after the upstream answered)

A stall is logged twice: `stall_started` as the request starts hanging, then `stall` (or
`stall_client_gone`) once it ends. `drop` closes the connection before the request reaches the upstream; `drop_after` forwards it and
closes the connection instead of answering (the request took effect, the client never hears). A
stalled request whose client went away meanwhile is not forwarded (it died with its client).
`GET /__fault__/log` lists every request seen with what was done; `POST /__fault__/reset` clears
rules and log. Binds 127.0.0.1 only.
"""
import http.client
import http.server
import json
import re
import socket
import struct
import sys
import threading
import time

LISTEN_PORT = int(sys.argv[1])
UPSTREAM_HOST, UPSTREAM_PORT = sys.argv[2].rsplit(":", 1)
UPSTREAM_PORT = int(UPSTREAM_PORT)

lock = threading.Lock()
rules = []
log = []


def choose(method, path, query):
    """The action for this request (and updates the rules' counters)."""
    with lock:
        for rule in rules:
            if rule.get("method") and rule["method"] != method:
                continue
            if rule.get("path") and not re.search(rule["path"], path):
                continue
            if rule.get("query") and not re.search(rule["query"], query):
                continue
            rule["_seen"] = rule.get("_seen", 0) + 1
            if rule["_seen"] <= rule.get("after", 0):
                continue
            times = rule.get("times", 1)
            done = rule.get("_done", 0)
            if times >= 0 and done >= times:
                continue
            rule["_done"] = done + 1
            return rule
    return None


def record(entry):
    with lock:
        entry["n"] = len(log) + 1
        log.append(entry)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reset_connection(self):
        # RST, not FIN: what a crashed peer or a broken network looks like.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def client_gone(self):
        try:
            self.connection.setblocking(False)
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.connection.setblocking(True)

    def control(self, body):
        global rules, log
        if self.command == "POST" and self.path == "/__fault__/rules":
            with lock:
                rules = json.loads(body or b"[]")
            return self.reply(200, b"{}")
        if self.command == "POST" and self.path == "/__fault__/reset":
            with lock:
                rules, log = [], []
            return self.reply(200, b"{}")
        if self.command == "GET" and self.path == "/__fault__/log":
            with lock:
                text = json.dumps(log).encode()
            return self.reply(200, text)
        return self.reply(404, b"{}")

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/__fault__/"):
            return self.control(body)
        path, _, query = self.path.partition("?")
        rule = choose(self.command, path, query)
        action = rule["action"] if rule else "forward"
        entry = {"method": self.command, "path": path, "query": query, "bytes": len(body), "action": action}
        if action == "stall":
            # Seen as it starts (a test acts while the request hangs), then again as it ends.
            record({**entry, "action": "stall_started"})
            time.sleep(rule.get("seconds", 5))
            if self.client_gone():
                # A request held in the network dies with its client (a killed worker's upload).
                entry["action"] = "stall_client_gone"
                record(entry)
                return self.reset_connection()
        if action in ("fail", "status"):
            status = rule.get("status", 503)
            entry["status"] = status
            record(entry)
            code = "ServiceUnavailable" if status >= 500 else "AccessDenied"
            xml = f"<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>injected by fault_proxy</Message></Error>".encode()
            return self.reply(status, xml, "application/xml")
        if action == "drop":
            record(entry)
            return self.reset_connection()
        upstream = http.client.HTTPConnection(UPSTREAM_HOST, UPSTREAM_PORT, timeout=120)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in ("connection", "keep-alive", "proxy-connection", "transfer-encoding"):
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
        except OSError as error:
            entry["status"] = 502
            entry["error"] = str(error)
            record(entry)
            return self.reply(502, b"")
        finally:
            upstream.close()
        entry["status"] = response.status
        record(entry)
        if action == "drop_after":
            return self.reset_connection()
        if action == "stall_after":
            time.sleep(rule.get("seconds", 5))
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", LISTEN_PORT), Handler).serve_forever()
