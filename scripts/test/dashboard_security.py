#!/usr/bin/env python3
"""Targeted checks of the dashboard's defences, one per promise of docs/dashboard.md.

    dashboard_security.py --redis URL --open http://127.0.0.1:P --token-url http://127.0.0.1:Q
                          --token T --tls-url https://127.0.0.1:R --session-s N

--open: a dashboard without a token (loopback only); --token-url: one with MW_DASHBOARD_TOKEN=T
and MW_DASHBOARD_SESSION_S=N; --tls-url: one serving HTTPS (self-signed: not verified here) with
the same token. Prints one line per check and exits 1 if any failed.
"""

import argparse
import http.client
import re
import ssl
import sys
import time
import urllib.parse

import redis

FAILED = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail), flush=True)
    if not ok:
        FAILED.append(name)


def request(base, method, path, headers=None, body=None, host=None):
    url = urllib.parse.urlsplit(base)
    if url.scheme == "https":
        conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=30, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host if host is not None else url.netloc)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    data = body.encode() if body is not None else None
    if data is not None:
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    cookies = response.headers.get_all("Set-Cookie") or []
    conn.close()
    return response.status, dict(response.headers), cookies, text


def cookie_value(cookies, name):
    for line in cookies:
        if line.startswith(name + "="):
            return line.split(";", 1)[0].split("=", 1)[1], line
    return None, None


def csrf_of(base):
    _, _, cookies, _ = request(base, "GET", "/login")
    value, _ = cookie_value(cookies, "mw_csrf")
    return value


def log_in(base, token):
    csrf = csrf_of(base)
    status, headers, cookies, _ = request(base, "POST", "/login", {"Cookie": "mw_csrf=" + csrf},
                                          "csrf=%s&token=%s&next=/" % (csrf, urllib.parse.quote(token)))
    session, line = cookie_value(cookies, "mw_session")
    return status, csrf, session, line


def alive(base):
    status, _, _, _ = request(base, "GET", "/login")
    return status in (200, 302, 303)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--open", required=True)
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--tls-url", required=True)
    parser.add_argument("--session-s", type=int, required=True)
    args = parser.parse_args()
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    open_url, token_url = args.open, args.token_url

    # Every number a request carries is bounded.
    for path in ["/jobs?page=9223372036854775807", "/jobs?page=-1", "/dead?page=9223372036854775807",
                 "/jobs?page=184467440737095517", "/api/events?after=99999999999999999999-1", "/jobs?state=nope"]:
        status, _, _, _ = request(open_url, "GET", path)
        check("GET %s is refused with 400" % path, status == 400, "status %d" % status)
    check("the dashboard is still up after them", alive(open_url))

    # Without a token, only loopback names.
    port = urllib.parse.urlsplit(open_url).port
    for host in ["evil.example", "127.0.0.1.evil.example:%d" % port, "localhost.evil.example", ""]:
        status, _, _, _ = request(open_url, "GET", "/workers", host=host)
        check("Host %r is refused (421 or 400)" % host, status in (400, 421), "status %d" % status)
    for host in ["localhost:%d" % port, "127.0.0.1:%d" % port, "127.9.9.9:%d" % port]:
        status, _, _, _ = request(open_url, "GET", "/workers", host=host)
        check("Host %r is answered" % host, status == 200, "status %d" % status)

    # A POST from another origin, even another port of the same host, is refused.
    csrf = csrf_of(open_url)
    status, _, _, _ = request(open_url, "POST", "/job/cancel",
                              {"Cookie": "mw_csrf=" + csrf, "Origin": "http://127.0.0.1:1"}, "csrf=%s&id=x" % csrf)
    check("a POST whose Origin is another port is refused", status == 403, "status %d" % status)
    status, _, _, _ = request(open_url, "POST", "/job/cancel",
                              {"Cookie": "mw_csrf=" + csrf, "Origin": open_url}, "csrf=%s&id=x" % csrf)
    check("a POST from the dashboard's own origin runs", status == 303, "status %d" % status)

    # The session cookie expires, with the session in Redis.
    status, csrf, session, line = log_in(token_url, args.token)
    check("the token logs in", status == 303 and session is not None, "status %d" % status)
    line = line or ""
    check("the session cookie has Max-Age=%d, HttpOnly, SameSite=Strict" % args.session_s,
          ("Max-Age=%d" % args.session_s) in line and "HttpOnly" in line and "SameSite=Strict" in line, line)
    check("no Secure flag over plain HTTP", "Secure" not in line, line)
    keys = r.keys("*:dashboard:session:*")
    ttls = [r.pttl(key) for key in keys]
    check("the session is one Redis key expiring within MW_DASHBOARD_SESSION_S",
          len(keys) == 1 and 0 < ttls[0] <= args.session_s * 1000, "%r %r" % (keys, ttls))
    cookie = "mw_csrf=%s; mw_session=%s" % (csrf, session)
    status, _, _, _ = request(token_url, "GET", "/workers", {"Cookie": cookie})
    check("the session opens pages", status == 200, "status %d" % status)

    # CSRF: a wrong bearer beside a good session cookie does not excuse the form's CSRF value.
    status, _, _, _ = request(token_url, "POST", "/job/cancel", {"Cookie": cookie, "Authorization": "Bearer wrong"}, "id=x")
    check("cookie + wrong bearer without the CSRF value is refused", status == 403, "status %d" % status)
    status, _, _, _ = request(token_url, "POST", "/job/cancel", {"Authorization": "Bearer " + args.token}, "id=x")
    check("the right bearer alone needs no CSRF value", status == 303, "status %d" % status)

    # Logout ends the session everywhere (its Redis key), not only in this browser.
    status, _, cookies, _ = request(token_url, "POST", "/logout", {"Cookie": cookie}, "csrf=" + csrf)
    _, cleared = cookie_value(cookies, "mw_session")
    check("logout answers 303 and clears the cookie", status == 303 and cleared is not None and "Max-Age=0" in cleared, "%d %r" % (status, cleared))
    check("logout deletes the session's key", r.keys("*:dashboard:session:*") == [])
    status, headers, _, _ = request(token_url, "GET", "/workers", {"Cookie": cookie})
    check("the old cookie no longer opens pages", status == 302 and headers.get("Location", "").startswith("/login"), "status %d" % status)

    # Expiry, on Redis's clock: the session's key expires, and the cookie stops working.
    status, csrf, session, _ = log_in(token_url, args.token)
    cookie = "mw_csrf=%s; mw_session=%s" % (csrf, session)
    for key in r.keys("*:dashboard:session:*"):
        r.pexpire(key, 1)
    deadline = time.monotonic() + 30
    while r.keys("*:dashboard:session:*") and time.monotonic() < deadline:
        time.sleep(0.01)
    status, headers, _, _ = request(token_url, "GET", "/workers", {"Cookie": cookie})
    check("an expired session is sent to the login page", status == 302 and headers.get("Location", "").startswith("/login"), "status %d" % status)

    # Over TLS, cookies are Secure.
    status, csrf, session, line = log_in(args.tls_url, args.token)
    check("over TLS the session cookie is Secure", status == 303 and "Secure" in (line or ""), "%d %r" % (status, line))
    _, _, cookies, _ = request(args.tls_url, "GET", "/login")
    _, csrf_line = cookie_value(cookies, "mw_csrf")
    check("over TLS the CSRF cookie is Secure", "Secure" in (csrf_line or ""), repr(csrf_line))

    for base in [open_url, token_url, args.tls_url]:
        check("%s still up" % base, alive(base))
    print("%d checks failed" % len(FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
