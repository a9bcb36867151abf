#!/usr/bin/env python3
"""A hostile-request fuzzer for `media-worker dashboard`.

usage: dashboard_fuzz.py --url http://127.0.0.1:PORT [--token TOKEN] [--requests N] [--seconds S]
                         [--seed SEED] [--queue NAME ...] [--report FILE] [--failures FILE]
                         [--timeout S] [--check-every N] [--allow KIND ...]

Sends requests, one connection each (raw HTTP/1.1 over a socket, `Connection: close`, so it can
send what http.client refuses: odd percent-encodings, raw bytes, lying Content-Length, chunked
bodies, several Host headers), to every route of the dashboard with valid and hostile values, and
judges every answer. Stops after --requests (default 2000 when --seconds is not given) or
--seconds, whichever comes first, or as soon as the dashboard is down. The requests are drawn from
random.Random(--seed) (printed at the start): the same seed against a server in the same state
sends the same requests (ids, endpoints and stream ids seen in pages join the pools of values).

With --token it logs in first (GET /login for the `mw_csrf` cookie, POST /login for `mw_session`)
and then mixes the session cookie, `Authorization: Bearer <token>`, a wrong bearer with the good
cookie, a bad session cookie, and nothing. Without it, it still reads the `mw_csrf` cookie (GET /).
POST /logout is only ever sent with a second session of its own; the main one is checked (and
logged in again if needed) afterwards. POST /job/delete and /dead/delete-all are ~1% each.

Failure kinds (each answer is judged; --allow KIND turns a kind into a warning):
  no-response        no HTTP/1.x status line came back (closed, reset, timeout, garbage); a
                     Content-Length that lies (longer than the body) is exempt
  5xx                any status >= 500 (none is allowed)
  crash-text         the body looks like a crash (Fatal error, Backtrace, `.swift:123`, ...)
  truncated          the answer stopped before the end of its body
  non-loopback-host  (no --token only) a request whose Host is not loopback (evil.example,
                     127.0.0.1.evil.example, empty, missing, twice; an absolute-form target with a
                     loopback Host is sent but not judged: only proxies send one)
                     was not answered 4xx
  cross-origin-post  a POST whose Origin is not the Host it carries (another host, `null`, another
                     port) got no 4xx
  csrf-bypass        a POST whose csrf field does not match the mw_csrf cookie, and that carries
                     no valid bearer token, got no 4xx (the action ran)
  auth-bypass        (--token only) a request with neither a valid cookie nor a valid bearer was
                     answered 2xx (other than /login and /static/)
  open-redirect      a 3xx whose Location leaves the site (`//host`, `/\\host`, `https://host`)
  header-injection   the answer has an `X-Injected` header (CR/LF in a value reached the headers)
  unescaped-markup   an HTML answer holds the `<mwxss>` marker sent in a parameter, unescaped
  file-leak          a body holds a passwd line (`root:x:0:0:`)
  dashboard-down     after a request, a fresh GET /login (good Host) got no 200/302/303 (tried 3
                     times); the run stops there

Prints the seed, progress, a summary (requests, by status class, by route, failures by kind with
one example each, the first 10 failures) and exits 0 only when there were no failures (1 else).
--report FILE gets the summary as JSON; --failures FILE gets every failure as a JSON line.
Python 3 standard library only.
"""
import argparse
import collections
import html
import json
import random
import re
import select
import socket
import ssl
import sys
import time
import uuid
from urllib.parse import quote, quote_plus, urlsplit

CRASH_RE = re.compile(rb"Fatal error|Stack trace|Backtrace|Thread 0|0x0000|\.swift:\d+|Traceback|Internal Server Error")
LEAK_RE = re.compile(rb"root:[^:\r\n]{0,20}:0:0:")
MARKER = "\"'><mwxss>"  # every HTML answer must escape it
MARKER_BYTES = b"<mwxss"
MAX_BODY = 16 << 20
SAFE_ALPHABET = "abcdefghijklmnopqrstuvwyz0123456789-_~."  # no 'x', no ':' (cannot spell a crash pattern)

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def host_is_loopback(host):
    """Whether a Host header value (or URL authority) names this machine."""
    if host is None:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name in LOOPBACK_NAMES:
        return True
    return bool(re.fullmatch(r"127\.\d{1,3}\.\d{1,3}\.\d{1,3}", name))


class Raw(str):
    """A value put into a query or a form as it is (already percent-encoded, or deliberately not)."""


class Response:
    def __init__(self, status, reason, headers, body, truncated):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as latin-1 text
        self.body = body
        self.truncated = truncated

    def header(self, name):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def all(self, name):
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def cookies(self):
        found = {}
        for value in self.all("set-cookie"):
            pair = value.split(";", 1)[0]
            if "=" in pair:
                key, val = pair.split("=", 1)
                found[key.strip()] = val.strip()
        return found


class ProtocolError(Exception):
    pass


def errname(error):
    if isinstance(error, socket.timeout):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, BrokenPipeError):
        return "broken pipe"
    return "%s: %s" % (type(error).__name__, error)


def read_response(sock, head_only):
    """Reads one answer; raises ProtocolError when there is none or it is not HTTP/1.x."""
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            try:
                chunk = sock.recv(65536)
            except OSError as error:
                if buffer:
                    raise ProtocolError("head cut short (%s): %r" % (errname(error), buffer[:200]))
                raise
            if not chunk:
                if buffer:
                    raise ProtocolError("head cut short: %r" % buffer[:200])
                raise ProtocolError("connection closed without an answer")
            buffer += chunk
            if len(buffer) > (1 << 20):
                raise ProtocolError("head larger than 1 MB")
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        match = re.fullmatch(rb"HTTP/1\.[01] (\d{3})(?: (.*))?", lines[0])
        if not match:
            raise ProtocolError("not an HTTP/1.x status line: %r" % lines[0][:200])
        status = int(match.group(1))
        headers = []
        for line in lines[1:]:
            if b":" not in line:
                raise ProtocolError("malformed header line %r" % line[:200])
            key, value = line.split(b":", 1)
            headers.append((key.decode("latin-1").strip(), value.decode("latin-1").strip()))
        if 100 <= status < 200 and status != 101:
            continue  # an interim answer (100 Continue): the real one follows
        break
    response = Response(status, (match.group(2) or b"").decode("latin-1"), headers, b"", False)
    if head_only or 100 <= status < 200 or status in (204, 304):
        return response
    encoding = (response.header("transfer-encoding") or "").lower()
    length = response.header("content-length")
    closed = False

    def more():
        nonlocal buffer, closed
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            closed = True
        buffer += chunk

    if "chunked" in encoding:
        body, position = b"", 0
        while True:
            end = buffer.find(b"\r\n", position)
            while end < 0 and not closed and len(buffer) < MAX_BODY:
                more()
                end = buffer.find(b"\r\n", position)
            if end < 0:
                response.truncated = True
                break
            try:
                size = int(buffer[position:end].split(b";")[0].strip(), 16)
            except ValueError:
                raise ProtocolError("bad chunk size %r" % buffer[position:end][:50])
            if size == 0:
                break
            start = end + 2
            while len(buffer) < start + size + 2 and not closed and len(buffer) < MAX_BODY:
                more()
            if len(buffer) < start + size:
                body += buffer[start:]
                response.truncated = True
                break
            body += buffer[start:start + size]
            position = start + size + 2
        response.body = body
    elif length is not None and length.isdigit():
        want = int(length)
        while len(buffer) < want and not closed and len(buffer) < MAX_BODY:
            more()
        response.truncated = len(buffer) < want
        response.body = buffer[:want]
    else:
        while not closed and len(buffer) < MAX_BODY:
            more()
        response.body = buffer
    return response


def exchange(address, use_tls, data, timeout, half_close=False, head_only=False):
    """Sends `data` on a new connection and reads the answer: (Response, None) or (None, error)."""
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except OSError as error:
        return None, "connect: " + errname(error)
    try:
        sock.settimeout(timeout)
        if use_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=address[0])
        send_error = None
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            # A server that answers early (413) and closes must not turn into a reset: stop
            # sending as soon as it has something to say.
            if sent and not use_tls and select.select([sock], [], [], 0)[0]:
                break
            try:
                sent += sock.send(view[sent:sent + 65536])
            except OSError as error:
                send_error = error
                break
        if half_close and send_error is None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        try:
            return read_response(sock, head_only), None
        except ProtocolError as error:
            detail = str(error)
            if send_error is not None:
                detail += " (while sending: %s)" % errname(send_error)
            return None, detail
        except OSError as error:
            return None, errname(error) + (" (while sending: %s)" % errname(send_error) if send_error else "")
    finally:
        try:
            sock.close()
        except OSError:
            pass


class Request:
    def __init__(self, route, method, target):
        self.route = route
        self.method = method
        self.target = target  # bytes
        self.version = b"HTTP/1.1"
        self.hosts = []  # Host header values to send (None entries: no Host header at all)
        self.headers = []  # [(name, bytes or str)]
        self.body = b""
        self.length = None  # Content-Length to declare (None: len(body) when there is a body)
        self.chunked = None  # None, or the raw chunked body to send instead of `body`
        self.half_close = False
        self.lies = False  # Content-Length longer than the body: no answer is acceptable
        self.must_4xx = []  # [(kind, why)]
        self.authenticated = True
        self.valid_bearer = False
        self.csrf_ok = None  # True/False: the form's csrf field does/doesn't match the mw_csrf cookie sent
        self.csrf_cookie = False
        self.cookie_plain = True
        self.path = ""
        self.tags = []
        self.after = None  # called after the answer (re-login after a logout)

    def raw(self):
        head = self.method.encode("latin-1") + b" " + self.target + b" " + self.version + b"\r\n"
        for host in self.hosts:
            head += b"Host: " + host.encode("latin-1") + b"\r\n"
        for name, value in self.headers:
            if isinstance(value, str):
                value = value.encode("latin-1")
            head += name.encode("latin-1") + b": " + value + b"\r\n"
        if self.chunked is not None:
            payload = self.chunked
        else:
            payload = self.body
            if self.length is not None:
                head += b"Content-Length: " + str(self.length).encode() + b"\r\n"
            elif payload or self.method in ("POST", "PUT", "PATCH"):
                head += b"Content-Length: " + str(len(payload)).encode() + b"\r\n"
        head += b"Connection: close\r\n\r\n"
        return head + payload

    def target_text(self):
        return self.target.decode("latin-1")

    def summary(self, limit=300):
        sent = self.chunked if self.chunked is not None else self.body
        return {"method": self.method, "target": self.target_text()[:limit], "route": self.route,
                "request_body": sent[:limit].decode("ascii", "backslashreplace"),
                "host": [h if h is not None else "(none)" for h in self.hosts][:3], "tags": self.tags[:12]}


class Fuzzer:
    GET_ROUTES = ["/", "/jobs", "/job", "/poster", "/dead", "/workers", "/events", "/api/events", "/webhooks",
                  "/static/live.js", "/static/dashboard.css", "/login", "/metrics", "unknown"]
    POST_ROUTES = {"/login": 1.0, "/logout": 0.3, "/job/retry": 1.0, "/job/delete": 0.2, "/job/cancel": 1.0,
                   "/dead/retry-all": 1.0, "/dead/delete-all": 0.2, "/webhooks/redeliver": 1.0,
                   "/webhooks/enable": 1.0}
    STATES = ["waiting", "delayed", "active", "completed", "dead", "canceled", "inbox"]

    def __init__(self, args):
        self.args = args
        url = urlsplit(args.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SystemExit("--url must be http://HOST:PORT")
        self.tls = url.scheme == "https"
        self.port = url.port or (443 if self.tls else 80)
        self.address = (url.hostname, self.port)
        self.good_host = url.netloc
        self.token = args.token
        self.rng = random.Random(args.seed)
        self.timeout = args.timeout
        self.queues = args.queue or ["default"]
        self.csrf = None
        self.session = None
        self.real_ids, self.real_endpoints, self.real_streams = [], [], []
        self.started = time.monotonic()
        self.sent = 0
        self.checks = 0
        self.by_class = collections.Counter()
        self.by_route = collections.defaultdict(collections.Counter)
        self.failures = []  # the first 1000, in full
        self.failure_count = 0
        self.by_kind = collections.OrderedDict()  # kind -> {"count", "example"}
        self.allowed = collections.Counter()
        self.recent = collections.deque(maxlen=max(2, args.check_every + 1))
        self.relogins = 0
        self.stopped = None
        self.failures_file = open(args.failures, "w") if args.failures else None
        self._build_pools()

    # ---- values ---------------------------------------------------------------------------

    def _build_pools(self):
        n = str(self.port)
        self.hostile_queues = ["", "nope", "{x}", "a}b{", "q" * 300, "..", Raw("%00"), "é漢",
                               Raw("default%0d%0aX-Injected:1"), "default\r\nX-Injected: 1", MARKER, "*",
                               "{default}", "default}", " default", "q" * 5000, "../default", Raw("%"), Raw("%zz")]
        self.numbers = ["9223372036854775807", "9223372036854775808", "-9223372036854775808", "-1", "0", "1", "2",
                        "99999999999999999999999999", "1e309", "NaN", "0x10", " 1", "+5", Raw("+5"), "１",
                        "184467440737095517", "184467440737095518", "9223372036854775806", "4611686018427387904",
                        "", "1.5", "-0", "007", Raw("1%00"), "1" * 400, "2147483648", "-2147483649"]
        self.hostile_states = ["WAITING", "x", "", "w" * 300, "scheduled", "dead\x00", MARKER, Raw("%ff")]
        self.hostile_ids = ["abc~a1~720p", "50%", "a/b", "..", "../../etc/passwd", Raw("%00"),
                            Raw("a%0d%0aX-Injected:1"), Raw("%ff%fe"), Raw("%c0%af"), Raw("%"), Raw("%zz"),
                            Raw("a%2525b"), "", "*", "job-1 ", MARKER, "é漢", "{x}", "\\", "job-1\x00x",
                            "job-1\r\nX-Injected: 1", Raw("job-1%"), Raw("%e2%82"), "a~b~c~d"]
        self.hostile_streams = ["$", "+", Raw("+"), "-", "(1", "99999999999999999999-1", "1-99999999999999999999",
                                "-1-1", "9" * 100, "", "1-", "18446744073709551615-18446744073709551615",
                                "18446744073709551616-0", "1-1-1", "１", "0x1", Raw("%00"), "*", "0-", "-0",
                                "1" * 5000, "9223372036854775807-9223372036854775807", MARKER]
        self.hostile_endpoints = ["zzzzzzzzzzzzzzzz", "", "a" * 300, "*", "../x", Raw("%00"), "{x}", MARKER,
                                  "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "é漢"]
        self.done_texts = ["retried job-1", "", MARKER, "t" * 5000, Raw("%0d%0aX-Injected:1"), Raw("%ff"), "é漢",
                           "deleted 3 dead jobs", "\r\nX-Injected: 1", Raw("%")]
        self.nexts = ["/", "/jobs", "/jobs?queue=default&state=dead", "//evil.example", "/\\evil.example",
                      "https://evil.example/", "javascript:alert(1)", Raw("%2F%2Fevil.example"),
                      "/\r\nX-Injected: 1", " //evil.example", MARKER, "n" * 5000, "", "\\\\evil.example",
                      "/%2F/evil.example", "http:/evil.example", "/\t/evil.example", "///evil.example"]
        self.evil_hosts = ["evil.example", "evil.example:" + n, "127.0.0.1.evil.example:" + n,
                           "localhost.evil.example", "", None, "dup", "absolute"]
        self.alt_hosts = ["localhost:" + n, "127.0.0.1", "[::1]:" + n, "127.0.0.2:" + n]

    def rand_text(self, length):
        return "".join(self.rng.choice(SAFE_ALPHABET) for _ in range(length))

    def pick(self, valid, hostile, valid_share=0.4):
        if valid and self.rng.random() < valid_share:
            return self.rng.choice(valid)
        return self.rng.choice(hostile)

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def queue_value(self, valid):
        return self.rng.choice(self.queues) if valid else self.pick(self.queues, self.hostile_queues, 0.5)

    def id_value(self, valid):
        good = self.real_ids + ["job-1", self.uuid()]
        if valid:
            return self.rng.choice(self.real_ids) if self.real_ids and self.rng.random() < 0.8 else self.rng.choice(good)
        if self.rng.random() < 0.05:
            return "j" + self.rand_text(9999)
        return self.pick(good, self.hostile_ids)

    def number_value(self, valid):
        return self.rng.choice(["1", "1", "2", "3"]) if valid else self.pick(["1", "2"], self.numbers, 0.2)

    def state_value(self, valid):
        return self.rng.choice(self.STATES) if valid else self.pick(self.STATES, self.hostile_states, 0.5)

    def stream_value(self, valid):
        good = self.real_streams + ["0", "0-0", "1-1"]
        return self.rng.choice(good) if valid else self.pick(good, self.hostile_streams)

    def endpoint_value(self, valid):
        good = self.real_endpoints + ["%016x" % self.rng.getrandbits(64)]
        return self.rng.choice(good) if valid else self.pick(good, self.hostile_endpoints)

    def token_value(self, valid):
        good = self.token or "wrong-token-0123456789"
        if valid:
            return good
        return self.rng.choice([good, "wrongwrongwrong123", "", good + "x", good[:-1], "t" * 10000, Raw("%00"),
                                good.upper(), " " + good, Raw(quote(good) + "%00"), MARKER])

    # ---- encoding -------------------------------------------------------------------------

    def encode(self, value, style):
        if isinstance(value, Raw):
            return str(value)
        if style == "plus":
            return quote_plus(value, safe="")
        if style == "double":
            return quote(quote(value, safe=""), safe="")
        if style == "loose":
            return quote(value, safe="/:@!$'()*,;{}[]|^`\\")
        return quote(value, safe="")

    def query_string(self, pairs, hostile, tags):
        """pairs: [(name, value)] with value None for a parameter without '='."""
        pairs = list(pairs)
        if hostile:
            mutated = []
            for name, value in pairs:
                roll = self.rng.random()
                if roll < 0.08:
                    tags.append("drop:" + name)
                    continue
                if roll < 0.12:
                    tags.append("no-eq:" + name)
                    mutated.append((name, None))
                    continue
                mutated.append((name, value))
                if roll < 0.18:
                    tags.append("repeat:" + name)
                    mutated.append((name, self.rng.choice(["1", "2", "", value if value is not None else "x"])))
            pairs = mutated
            if self.rng.random() < 0.1:
                extra = self.rng.choice([("x", "1"), ("Queue", "nope"), (Raw("%71ueue"), "default"), ("", "v"),
                                         ("page", "2"), (MARKER, MARKER), ("a" * 2000, "b")])
                tags.append("extra-param")
                pairs.insert(self.rng.randrange(len(pairs) + 1), extra)
            if len(pairs) > 1 and self.rng.random() < 0.1:
                self.rng.shuffle(pairs)
        parts = []
        for name, value in pairs:
            style = self.rng.choice(["pct", "pct", "plus", "double", "loose"]) if hostile else "plus"
            if style != "pct" and hostile:
                tags.append(style)
            key = self.encode(name, "pct")
            parts.append(key if value is None else key + "=" + self.encode(value, style))
        text = "&".join(parts)
        if hostile and self.rng.random() < 0.03:
            text = self.rng.choice(["&&", "&", ";"]) + text + self.rng.choice(["&", "&&", "#frag", ""])
            tags.append("odd-separators")
        return text

    # ---- requests -------------------------------------------------------------------------

    def choose_route(self):
        weights = [(route, 1.0) for route in self.GET_ROUTES] + [("POST " + r, w) for r, w in self.POST_ROUTES.items()]
        weights.append(("method", 0.5))
        total = sum(w for _, w in weights)
        roll = self.rng.random() * total
        for route, weight in weights:
            roll -= weight
            if roll < 0:
                return route
        return "/"

    def get_params(self, route, valid):
        q = lambda: ("queue", self.queue_value(valid))
        if route == "/jobs":
            pairs = [q(), ("state", self.state_value(valid)), ("page", self.number_value(valid))]
            if self.rng.random() < 0.25:
                pairs.append(("q", self.id_value(valid) if self.rng.random() < 0.7 else self.rand_text(8)))
            return pairs
        if route == "/job":
            pairs = [q(), ("id", self.id_value(valid))]
            if self.rng.random() < 0.3:
                pairs.append(("done", self.rng.choice(self.done_texts[:1]) if valid else self.rng.choice(self.done_texts)))
            return pairs
        if route == "/poster":
            return [q(), ("id", self.id_value(valid))]
        if route == "/dead":
            pairs = [q(), ("page", self.number_value(valid))]
            if self.rng.random() < 0.3:
                pairs.append(("done", "deleted 3 dead jobs" if valid else self.rng.choice(self.done_texts)))
            return pairs
        if route == "/events":
            return [q()]
        if route == "/api/events":
            return [q(), ("after", self.stream_value(valid))]
        if route == "/webhooks":
            pairs = [q()]
            if self.rng.random() < 0.3:
                pairs.append(("done", "endpoint enabled" if valid else self.rng.choice(self.done_texts)))
            return pairs
        if route == "/login":
            return [("next", "/" if valid else self.rng.choice(self.nexts))]
        return [] if valid or self.rng.random() < 0.7 else [("x", self.rng.choice(self.numbers + ["", MARKER]))]

    def post_params(self, route, valid):
        q = lambda: ("queue", self.queue_value(valid))
        if route == "/login":
            return [("token", self.token_value(valid)), ("next", "/" if valid else self.rng.choice(self.nexts))]
        if route in ("/job/retry", "/job/delete", "/job/cancel"):
            return [q(), ("id", self.id_value(valid))]
        if route in ("/dead/retry-all", "/dead/delete-all"):
            return [q()]
        if route == "/webhooks/redeliver":
            return [q(), ("endpoint", self.endpoint_value(valid)), ("stream_id", self.stream_value(valid))]
        if route == "/webhooks/enable":
            return [q(), ("endpoint", self.endpoint_value(valid))]
        return []

    def unknown_path(self):
        choice = self.rng.choice(["/../../etc/passwd", "/%2e%2e/", "/%2e%2e/%2e%2e/etc/passwd", "/job/", "//",
                                  "/jobs/", "/JOBS", "/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                                  "/static/", "/static/live.js/", "/static/live.js%00", "/api/", "/api/events/1",
                                  "/.env", "/.git/config", "/%00", "/login/..", "/index.html", "/%ff%fe",
                                  "/static/..%2f..%2fetc%2fpasswd", "/;/jobs", "/jobs;x=1", "/%", "/%zz",
                                  "long", "longer", "*"])
        if choice == "long":
            return "/" + self.rand_text(self.rng.choice([300, 5000, 20000]))
        if choice == "longer":
            return "/x" * self.rng.choice([100, 3000, 30000])
        return choice

    def build(self):
        rng = self.rng
        valid = rng.random() < 0.3
        hostile = not valid
        route = self.choose_route()
        tags = ["valid"] if valid else []
        method = "GET"
        path = route
        if route.startswith("POST "):
            method, path = "POST", route[5:]
        elif route == "method":
            method = rng.choice(["HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "get", "BREW", "POST", "CONNECT"])
            path = rng.choice(["/", "/jobs", "/job", "/login", "/dead/delete-all", "/static/live.js", "/nope"])
            route = method + " (other)"
            if path == "/dead/delete-all" and method == "POST":
                path = "/dead/retry-all"
        if route == "unknown":
            path = self.unknown_path()
        pairs = self.get_params(path, valid) if method != "POST" else []
        if method == "POST" and route != "POST (other)" and not route.endswith("(other)"):
            pairs = self.post_params(path, valid)
        query = self.query_string(pairs, hostile, tags) if method != "POST" else ""
        if method == "POST" and hostile and rng.random() < 0.1:
            query = self.query_string(self.post_params(path, False), True, tags)  # the fields in the query instead
            tags.append("fields-in-query")
        target = path + ("?" + query if query else "")
        if route == "/" and not valid and rng.random() < 0.05:
            target = "/?"
        request = Request(route, method, target.encode("ascii"))
        request.path = path
        request.tags = tags
        if path == "*":
            request.method = method = "OPTIONS"
        if path == "/logout":
            return self.build_logout(request, valid)

        # Auth and cookies.
        self.apply_auth(request, valid)

        # Host.
        self.apply_host(request, valid, path, target)

        # Body.
        if method == "POST":
            self.apply_form(request, path, pairs, valid)
        elif hostile and rng.random() < 0.04:
            self.apply_odd_body(request, form=None)

        # Odd framing of the request itself.
        if hostile:
            roll = rng.random()
            if roll < 0.015:
                request.version = rng.choice([b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9"])
                tags.append("version:" + request.version.decode())
            elif roll < 0.03:
                request.target += rng.choice([b"\xc3\xa9", b"\xff", b"\x7f", b"\t"])
                tags.append("raw-byte-target")
            elif roll < 0.05:
                request.headers.append(rng.choice([
                    ("Cookie", "a=" + "b" * 8000), ("X-Forwarded-Host", "evil.example"),
                    ("X-Forwarded-For", "1.2.3.4"), ("Cookie", b"mw_csrf=\xff\xfe; x"), ("Accept", "*/*;q=" + "9" * 300),
                    ("X-Big", "y" * 60000), ("Expect", "100-continue"), ("Cookie", "mw_session=" + "s" * 4000)]))
                tags.append("odd-header:" + request.headers[-1][0])
        return request

    def cookie_header(self, csrf=True, session=True, session_value=None):
        parts = []
        if csrf and self.csrf:
            parts.append("mw_csrf=" + self.csrf)
        if self.token and session and (session_value is not None or self.session):
            parts.append("mw_session=" + (session_value if session_value is not None else self.session))
        return "; ".join(parts)

    def apply_auth(self, request, valid):
        """Picks how the request authenticates; sets `authenticated`, `valid_bearer`, `csrf_cookie`."""
        rng = self.rng
        request.valid_bearer = False
        request.csrf_cookie = True
        request.cookie_plain = True  # one mw_csrf cookie, as a browser sends it
        if self.token:
            kind = "cookie" if valid and rng.random() < 0.8 else rng.choice(
                ["cookie", "cookie", "bearer", "bearer", "wrong-bearer+cookie", "none", "none", "bad-session"])
        else:
            kind = "cookie" if valid else rng.choice(["cookie"] * 7 + ["none", "bearer-junk", "bearer-junk"])
        request.tags.append("auth:" + kind)
        cookie = None
        if kind == "cookie":
            cookie = self.cookie_header()
        elif kind == "bearer":
            request.headers.append(("Authorization", "Bearer " + self.token))
            request.valid_bearer = True
            if rng.random() < 0.5:
                cookie = self.cookie_header(session=False)
            else:
                request.csrf_cookie = False
        elif kind == "wrong-bearer+cookie":
            request.headers.append(("Authorization", "Bearer " + rng.choice(["wrong", "", self.token + "x", "x" * 500])))
            cookie = self.cookie_header()
        elif kind == "none":
            if rng.random() < 0.5:
                cookie = self.cookie_header(session=False)
            else:
                request.csrf_cookie = False
            request.authenticated = not self.token
        elif kind == "bad-session":
            cookie = self.cookie_header(session_value=rng.choice(
                ["", "0" * 64, (self.session or "")[:-1], (self.session or "").upper(), "x" * 5000, "%00"]))
            request.authenticated = False
        elif kind == "bearer-junk":
            request.headers.append(("Authorization", rng.choice(["Bearer junk", "Bearer ", "Basic YTpi", "Bearer " + "j" * 300])))
            cookie = self.cookie_header()
        if cookie and not valid and rng.random() < 0.06:
            cookie = rng.choice(["mw_csrf=wrong; " + cookie, cookie + "; mw_csrf=wrong", cookie + ";;; =; x",
                                 cookie.replace("mw_csrf=", "MW_CSRF=")])
            request.cookie_plain = False
            request.tags.append("odd-cookie")
        if cookie:
            request.headers.append(("Cookie", cookie))
        elif kind != "bearer":
            request.csrf_cookie = False
        if not self.csrf:
            request.csrf_cookie = False

    def apply_host(self, request, valid, path, target):
        rng = self.rng
        roll = 1.0 if valid else rng.random()
        if roll < 0.09:
            host = rng.choice(self.evil_hosts)
            request.tags.append("host:%s" % ("(none)" if host is None else host or "(empty)"))
            if host == "dup":
                request.hosts = [self.good_host, "evil.example"] if rng.random() < 0.5 else ["evil.example", self.good_host]
                why = "two Host headers"
            elif host == "absolute":
                request.hosts = [self.good_host]
                request.target = ("http://evil.example" + target).encode("ascii")
                why = "absolute-form target http://evil.example"
            elif host is None:
                request.hosts = []
                why = "no Host header"
            else:
                request.hosts = [host]
                why = "Host %r" % host
            # An absolute-form target with a loopback Host header is sent by proxies only, never
            # by a browser a rebinding page drives; the server judges the Host header (the HTTP
            # layer keeps the target's path alone), so any answer is fine for it.
            if not self.token and host != "absolute":
                request.must_4xx.append(("non-loopback-host", why))
        elif roll < 0.12:
            request.hosts = [rng.choice(self.alt_hosts)]
            request.tags.append("host:" + request.hosts[0])
        else:
            request.hosts = [self.good_host]

    def form_fields(self, path, pairs, valid, request):
        """The urlencoded body, and whether its csrf field matches the cookie."""
        rng = self.rng
        tags = request.tags
        csrf_kind = "good" if valid else rng.choice(["good"] * 7 + ["wrong", "missing", "empty", "dup", "upper"])
        if csrf_kind != "good":
            tags.append("csrf:" + csrf_kind)
        fields = list(pairs)
        good = self.csrf or ""
        wrong = "%048x" % rng.getrandbits(192)
        if csrf_kind == "good":
            fields.insert(0, ("csrf", good))
        elif csrf_kind == "wrong":
            fields.insert(0, ("csrf", wrong))
        elif csrf_kind == "empty":
            fields.insert(0, ("csrf", ""))
        elif csrf_kind == "upper":
            fields.insert(0, ("csrf", good.upper()))
        elif csrf_kind == "dup":
            fields[0:0] = [("csrf", good), ("csrf", wrong)] if rng.random() < 0.5 else [("csrf", wrong), ("csrf", good)]
        body = self.query_string(fields, not valid, tags)
        matches = None if csrf_kind == "dup" or not request.cookie_plain else (csrf_kind == "good" and bool(good) and request.csrf_cookie)
        if csrf_kind == "good" and "csrf" not in body:
            matches = False  # a mutation dropped it
        if csrf_kind == "good" and "no-eq:csrf" in tags:
            matches = False  # sent as `csrf` alone: an empty value
        elif csrf_kind == "good" and "repeat:csrf" in tags:
            matches = None  # which of the two the form parser keeps is its business
        return body.encode("ascii"), matches

    def apply_form(self, request, path, pairs, valid):
        rng = self.rng
        body, matches = self.form_fields(path, pairs, valid, request)
        request.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        request.csrf_ok = matches
        if not valid and rng.random() < 0.2:
            self.apply_odd_body(request, form=body)
        else:
            request.body = body
        self._recheck_csrf(request)
        known = path in self.POST_ROUTES and request.method == "POST"
        if not valid and rng.random() < 0.15:
            origin = rng.choice(["http://" + self.good_host, "http://evil.example", "null",
                                 "http://127.0.0.1.evil.example:%d" % self.port, "http://127.0.0.1:1",
                                 "http://localhost:%d" % (self.port + 1 if self.port < 65535 else 1)])
            request.headers.append(("Origin", origin))
            request.tags.append("origin:" + origin)
            # Foreign to the request as sent: an Origin is same-origin when it names the Host the
            # request carries (with a token, a dashboard may answer any Host; a browser sends an
            # Origin equal to it only from a page that host served, and such a page holds none of
            # this dashboard's cookies).
            sent_host = request.hosts[0].lower() if len(request.hosts) == 1 else None
            foreign = origin == "null" or sent_host is None or origin.lower() != "http://" + sent_host
            if foreign and known:
                request.must_4xx.append(("cross-origin-post", "Origin %s" % origin))

    def apply_odd_body(self, request, form):
        rng = self.rng
        kind = rng.choice(["json", "bytes", "big", "lie", "short-length", "chunked", "chunked", "chunked-bad",
                           "chunked-cut", "multipart"] if form is not None else ["json", "bytes", "big", "lie", "chunked"])
        request.tags.append("body:" + kind)
        base = form if form is not None else b"a=1"
        if kind in ("json", "bytes", "multipart") and form is not None:
            request.csrf_ok = False  # no urlencoded csrf field at all
            self._recheck_csrf(request)
        if kind == "json":
            request.body = json.dumps({"csrf": self.csrf, "queue": "default", "id": "job-1"}).encode()
            request.headers.append(("Content-Type", "application/json"))
        elif kind == "bytes":
            request.body = bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 100, 5000])))
            request.headers.append(("Content-Type", rng.choice(["application/octet-stream", "text/plain", "x/y;;"])))
        elif kind == "multipart":
            request.body = b"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + (self.csrf or "").encode() + b"\r\n--b--\r\n"
            request.headers.append(("Content-Type", "multipart/form-data; boundary=b"))
        elif kind == "big":
            request.body = base + b"&pad=" + b"p" * (1 << 20)
        elif kind == "lie":
            request.body = base
            request.length = len(base) + rng.choice([1, 100, 10000, 1 << 20])
            request.half_close = True
            request.lies = True
        elif kind == "short-length":
            request.body = base + b"GET /jobs?page=9223372036854775807 HTTP/1.1\r\nHost: " + self.good_host.encode() + b"\r\n\r\n"
            request.length = len(base)
        elif kind in ("chunked", "chunked-bad", "chunked-cut"):
            chunks, rest = b"", base
            while rest:
                size = rng.randint(1, max(1, len(rest)))
                piece, rest = rest[:size], rest[size:]
                chunks += b"%x%s\r\n%s\r\n" % (len(piece), b";ext=1" if rng.random() < 0.1 else b"", piece)
            if kind == "chunked-bad":  # invalid sizes: a 400 is the answer
                chunks = rng.choice([b"zz\r\n" + chunks, b"-1\r\nx\r\n" + chunks, b"0x3\r\nabc\r\n" + chunks])
                request.headers.append(("Transfer-Encoding", "chunked"))
            elif kind == "chunked-cut":  # ends in the middle of a chunk, then closes: like a lying length
                chunks = rng.choice([chunks + b"5\r\nab", chunks[:-2], chunks + b"10"])
                request.headers.append(("Transfer-Encoding", "chunked"))
                request.half_close = True
                request.lies = True
            else:
                request.headers.append(("Transfer-Encoding", "chunked"))
                if rng.random() < 0.15:
                    request.headers.append(("Content-Length", str(len(base))))
                    request.tags.append("te+cl")
            request.chunked = chunks + (b"0\r\n\r\n" if kind == "chunked" else b"")

    def _recheck_csrf(self, request):
        request.must_4xx = [m for m in request.must_4xx if m[0] != "csrf-bypass"]
        path = getattr(request, "path", "")
        if request.method == "POST" and path in self.POST_ROUTES and request.csrf_ok is False and not request.valid_bearer:
            request.must_4xx.append(("csrf-bypass", "csrf field does not match the mw_csrf cookie, no valid bearer"))

    def build_logout(self, request, valid):
        """POST /logout with a session of its own, then makes sure the main one still works."""
        second = self.obtain_session()
        request.hosts = [self.good_host]
        cookie = "mw_csrf=" + (second.get("mw_csrf") or "")
        if self.token and second.get("mw_session"):
            cookie += "; mw_session=" + second["mw_session"]
        csrf_kind = "good" if valid else self.rng.choice(["good", "good", "wrong", "missing"])
        request.tags.append("second-session")
        body = {"good": "csrf=" + (second.get("mw_csrf") or ""), "wrong": "csrf=%048x" % self.rng.getrandbits(192),
                "missing": ""}[csrf_kind]
        request.headers += [("Cookie", cookie), ("Content-Type", "application/x-www-form-urlencoded")]
        request.body = body.encode()
        if csrf_kind != "good":
            request.tags.append("csrf:" + csrf_kind)
            request.must_4xx.append(("csrf-bypass", "logout with a csrf field that does not match the cookie"))
        request.after = self.ensure_session
        return request

    # ---- session --------------------------------------------------------------------------

    def simple(self, method, target, cookie=None, body=None):
        request = Request("setup", method, target.encode("ascii"))
        request.hosts = [self.good_host]
        if cookie:
            request.headers.append(("Cookie", cookie))
        if body is not None:
            request.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            request.body = body.encode("ascii")
        return exchange(self.address, self.tls, request.raw(), self.timeout)

    def obtain_session(self):
        """A fresh mw_csrf (and with a token, mw_session) pair: {} when the dashboard gave none."""
        found = {}
        response, _ = self.simple("GET", "/login" if self.token else "/")
        if response is None:
            return found
        found.update({k: v for k, v in response.cookies().items() if k in ("mw_csrf", "mw_session")})
        if self.token and found.get("mw_csrf"):
            body = "csrf=%s&token=%s&next=%%2F" % (quote(found["mw_csrf"], safe=""), quote(self.token, safe=""))
            response, _ = self.simple("POST", "/login", cookie="mw_csrf=" + found["mw_csrf"], body=body)
            if response is not None and response.status in (302, 303):
                found.update({k: v for k, v in response.cookies().items() if k == "mw_session"})
        return found

    def login(self):
        found = self.obtain_session()
        self.csrf = found.get("mw_csrf")
        self.session = found.get("mw_session")
        if not self.csrf:
            return "no mw_csrf cookie from GET %s" % ("/login" if self.token else "/")
        if self.token and not self.session:
            return "POST /login with the token set no mw_session cookie"
        return None

    def ensure_session(self):
        """After a logout (of another session): the main session must still be usable."""
        if not self.token:
            return
        response, _ = self.simple("GET", "/jobs", cookie=self.cookie_header())
        if response is None or response.status in (301, 302, 303, 401):
            self.relogins += 1
            self.login()

    # ---- judging --------------------------------------------------------------------------

    def judge(self, request, response, error):
        found = []
        if response is None:
            if not request.lies:
                found.append(("no-response", error))
            return found
        status = response.status
        body = response.body
        if status >= 500:
            found.append(("5xx", "status %d" % status))
        crash = CRASH_RE.search(body)
        if crash:
            found.append(("crash-text", "body contains %r" % crash.group(0).decode("latin-1")))
        if response.truncated and not request.lies:
            found.append(("truncated", "body shorter than announced"))
        if not 400 <= status < 500:
            for kind, why in request.must_4xx:
                found.append((kind, "%s: answered %d, not 4xx" % (why, status)))
        path = request.path or request.target_text().split("?")[0]
        if self.token and not request.authenticated and not getattr(request, "valid_bearer", False) \
                and 200 <= status < 300 and not path.startswith(("/login", "/static/")) and request.method != "OPTIONS":
            found.append(("auth-bypass", "no valid credential, answered %d" % status))
        if 300 <= status < 400:
            location = response.header("location")
            if location is not None and not self.same_site(location):
                found.append(("open-redirect", "Location %r" % location[:200]))
        for name, _ in response.headers:
            if name.lower() == "x-injected":
                found.append(("header-injection", "the answer has an X-Injected header"))
        if MARKER_BYTES in body and "html" in (response.header("content-type") or "").lower():
            found.append(("unescaped-markup", "the HTML holds <mwxss> unescaped"))
        if LEAK_RE.search(body):
            found.append(("file-leak", "the body holds a passwd line"))
        return found

    def same_site(self, location):
        text = location.strip(" \t\r\n\x00\x0b\x0c")
        if text.startswith("/") and not text.startswith(("//", "/\\")):
            return True
        try:
            parsed = urlsplit(text)
        except ValueError:
            return False
        if parsed.scheme in ("http", "https") and parsed.netloc:
            return host_is_loopback(parsed.netloc) or parsed.netloc == self.good_host
        if not parsed.scheme and not parsed.netloc and not text.startswith(("\\", "/")):
            return ":" not in text.split("/")[0]  # relative (e.g. "jobs?x=1"): stays here
        return False

    def alive(self):
        """A fresh GET /login with a good Host gets 200/302/303 (three tries, a second apart)."""
        self.checks += 1
        last = None
        for attempt in range(3):
            response, error = self.simple("GET", "/login")
            if response is not None and response.status in (200, 302, 303):
                return True, None
            last = error if response is None else "GET /login answered %d" % response.status
            time.sleep(1)
        return False, last

    def record(self, request, response, kind, detail, extra=None):
        entry = dict(request.summary())
        entry.update({"n": self.sent, "status": response.status if response is not None else None,
                      "body": (response.body[:300].decode("utf-8", "replace") if response is not None else ""),
                      "kind": kind, "reason": detail})
        if extra:
            entry.update(extra)
        if kind in self.args.allow:
            self.allowed[kind] += 1
            return
        self.failure_count += 1
        if len(self.failures) < 1000:
            self.failures.append(entry)
        slot = self.by_kind.setdefault(kind, {"count": 0, "example": entry})
        slot["count"] += 1
        if self.failures_file:
            self.failures_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.failures_file.flush()

    def harvest(self, response):
        if response is None or "html" not in (response.header("content-type") or ""):
            return
        text = response.body.decode("utf-8", "replace")
        for pattern, pool in ((r'data-job="([^"]{1,200})"', self.real_ids),
                              (r'data-endpoint="([^"]{1,100})"', self.real_endpoints),
                              (r'data-after="(\d{1,20}-\d{1,20})"', self.real_streams),
                              (r"<td>(\d{10,20}-\d{1,10})</td>", self.real_streams)):
            for value in re.findall(pattern, text):
                value = html.unescape(value)
                if value not in pool and len(pool) < 100:
                    pool.append(value)

    # ---- the run --------------------------------------------------------------------------

    def done(self):
        if self.args.seconds is not None and time.monotonic() - self.started >= self.args.seconds:
            return True
        limit = self.args.requests if self.args.requests is not None else (None if self.args.seconds is not None else 2000)
        return limit is not None and self.sent >= limit

    def run(self):
        print("dashboard_fuzz: seed %d, url %s, token %s" % (self.args.seed, self.args.url, "yes" if self.token else "no"), flush=True)
        problem = self.login()
        if problem:
            setup = Request("setup", "GET", b"/login")
            setup.hosts = [self.good_host]
            self.record(setup, None, "setup", problem)
            self.stopped = "setup failed: " + problem
            return
        last_progress = time.monotonic()
        while not self.done():
            request = self.build()
            response, error = exchange(self.address, self.tls, request.raw(),
                                       min(self.timeout, 5.0) if request.lies else self.timeout,
                                       half_close=request.half_close, head_only=request.method == "HEAD")
            self.sent += 1
            status_class = "none" if response is None else "%dxx" % (response.status // 100)
            self.by_class[status_class] += 1
            self.by_route[request.route][status_class] += 1
            self.recent.append(dict(request.summary(120), status=response.status if response else None))
            found = self.judge(request, response, error)
            self.harvest(response)
            if request.after:
                request.after()
            if self.token and response is not None and request.authenticated and not request.valid_bearer \
                    and "auth:cookie" in request.tags and response.status == 302 \
                    and (response.header("location") or "").startswith("/login"):
                self.relogins += 1  # the session stopped working: log in again and go on
                self.login()
            if response is None or request.lies or self.sent % self.args.check_every == 0:
                up, why = self.alive()
                if not up:
                    found = [item for item in found if item[0] != "no-response"]
                    found.append(("dashboard-down", "after this request (its answer: %s), GET /login: %s" % (
                        error or response.status, why)))
                    self.stopped = "dashboard down after request %d" % self.sent
            for kind, detail in found:
                self.record(request, response, kind, detail,
                            {"recent": list(self.recent)} if kind == "dashboard-down" and self.args.check_every > 1 else None)
            if self.stopped:
                break
            if time.monotonic() - last_progress >= 10:
                last_progress = time.monotonic()
                print("  %d requests, %d failures, %.0f s" % (self.sent, self.failure_count, last_progress - self.started), flush=True)

    def summary(self):
        return {
            "seed": self.args.seed, "url": self.args.url, "token": bool(self.token),
            "requests": self.sent, "liveness_checks": self.checks, "relogins": self.relogins,
            "seconds": round(time.monotonic() - self.started, 1), "stopped": self.stopped,
            "by_status_class": dict(sorted(self.by_class.items())),
            "by_route": {route: dict(sorted(counts.items())) for route, counts in sorted(self.by_route.items())},
            "failures": self.failure_count,
            "failures_by_kind": {kind: slot for kind, slot in self.by_kind.items()},
            "allowed": dict(self.allowed),
            "first_failures": self.failures[:100],
            "pools_seen": {"ids": len(self.real_ids), "endpoints": len(self.real_endpoints), "streams": len(self.real_streams)},
        }


def main():
    parser = argparse.ArgumentParser(description="Hostile-request fuzzer for media-worker dashboard.")
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--token", help="MW_DASHBOARD_TOKEN of the dashboard (logs in with it)")
    parser.add_argument("--requests", type=int, help="stop after N requests (default 2000 without --seconds)")
    parser.add_argument("--seconds", type=float, help="stop after S seconds")
    parser.add_argument("--seed", type=int, help="random seed (default: from the clock)")
    parser.add_argument("--queue", action="append", help="a real queue name (repeatable; default: default)")
    parser.add_argument("--report", help="write the summary JSON here")
    parser.add_argument("--failures", help="write every failure here as a JSON line")
    parser.add_argument("--timeout", type=float, default=15.0, help="per-request socket timeout (15 s)")
    parser.add_argument("--check-every", type=int, default=1, help="liveness check every N requests (1)")
    parser.add_argument("--allow", action="append", default=[], help="a failure kind to count as a warning only")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = int(time.time() * 1000) % (1 << 31)
    args.check_every = max(1, args.check_every)

    fuzzer = Fuzzer(args)
    try:
        fuzzer.run()
    except KeyboardInterrupt:
        fuzzer.stopped = "interrupted"
    summary = fuzzer.summary()
    if fuzzer.failures_file:
        fuzzer.failures_file.close()

    print("requests: %d (liveness checks %d, re-logins %d) in %.1f s%s" % (
        summary["requests"], summary["liveness_checks"], summary["relogins"], summary["seconds"],
        "; stopped: " + summary["stopped"] if summary["stopped"] else ""))
    print("by status class: " + ", ".join("%s %d" % item for item in summary["by_status_class"].items()))
    print("by route:")
    for route, counts in summary["by_route"].items():
        print("  %-24s %s" % (route, ", ".join("%s %d" % item for item in counts.items())))
    if summary["allowed"]:
        print("allowed (warnings): " + ", ".join("%s %d" % item for item in summary["allowed"].items()))
    print("failures: %d" % summary["failures"])
    for kind, slot in summary["failures_by_kind"].items():
        example = slot["example"]
        print("  %-18s %5d  e.g. %s %s -> %s (%s)" % (kind, slot["count"], example["method"], example["target"][:150],
                                                      example["status"], example["reason"][:200]))
    if fuzzer.failures:
        print("first failures:")
        for entry in fuzzer.failures[:10]:
            print("  " + json.dumps({k: v for k, v in entry.items() if k != "recent"}, ensure_ascii=False)[:1500])
    if args.report:
        with open(args.report, "w") as handle:
            json.dump(summary, handle, indent=2, ensure_ascii=False)
    sys.exit(0 if summary["failures"] == 0 and not (summary["stopped"] or "").startswith("setup") else 1)


if __name__ == "__main__":
    main()
