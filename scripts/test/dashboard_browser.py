#!/usr/bin/env python3
"""Drives the dashboard in headless Chromium (Debian's chromium + chromium-driver, through
Selenium) as an operator would, and checks it against Redis read with redis-py.

    dashboard_browser.py --redis URL --main URL --read-only URL --remote URL --token T
                         --storage DIR --fixture MP4 [--screenshots DIR]

--main: a dashboard on loopback without a token; --read-only: one started with --read-only;
--remote: one listening off loopback (0.0.0.0) with MW_DASHBOARD_TOKEN=T. A worker serves the
queue `default`, storing under DIR. Exits 0 when every check holds; else prints what failed.
"""
import argparse
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import redis
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

QUEUE = "default"
BASE = "mw:{default}:"


def until(what, condition, timeout=30.0, every=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(every)
    raise AssertionError("timed out waiting for " + what)


def gone(element):
    """The page an element belonged to has been replaced (Chromium reports it in more than one way)."""
    try:
        element.is_enabled()
        return False
    except WebDriverException:
        return True


class Checks:
    def __init__(self, args):
        self.args = args
        self.r = redis.Redis.from_url(args.redis, decode_responses=True)
        options = webdriver.ChromeOptions()
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
            options.add_argument(flag)
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        self.driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
        self.driver.set_page_load_timeout(30)

    def push(self, job):
        self.r.rpush(BASE + "inbox", json.dumps(job))

    def state(self, job_id):
        return self.r.hget(BASE + "job:" + job_id, "state")

    def click(self, element):
        """Clicks a link or button that loads a page, and waits for the new page."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(self.driver, 30).until(lambda d: gone(page))
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def open(self, base, path):
        self.driver.get(base + path)

    def shot(self, name):
        if self.args.screenshots:
            os.makedirs(self.args.screenshots, exist_ok=True)
            self.driver.save_screenshot(os.path.join(self.args.screenshots, name + ".png"))

    def counts(self):
        r = self.r
        waiting = sum(r.llen(BASE + "wait:" + p) + r.zcard(BASE + "wait:" + p + ":graph") for p in ["high", "normal", "low"])
        return {"inbox": r.llen(BASE + "inbox"), "waiting": waiting, "scheduled": r.zcard(BASE + "scheduled"),
                "active": r.zcard(BASE + "active"), "completed": r.zcard(BASE + "completed"),
                "dead": r.zcard(BASE + "dead"), "canceled": r.zcard(BASE + "canceled")}

    def run(self):
        a = self.args
        storage = a.storage
        os.makedirs(os.path.join(storage, "in"), exist_ok=True)
        # Work for every page: completed jobs (one carrying markup in its metadata), jobs that
        # die because their input is missing, one waiting far in the future.
        shutil.copyfile(a.fixture, os.path.join(storage, "in", "clip.mp4"))
        self.push({"id": "film", "type": "transcode", "file_id": "film-1", "input": {"url": "file://" + storage + "/in/clip.mp4"},
                   "output": {"url": "file://" + storage + "/out/"}})
        for index in range(60):
            self.push({"id": "ok-%02d" % index, "type": "noop", "file_id": "file-%02d" % index, "movie_id": "movie-%d" % (index % 3)})
        self.push({"id": "xss", "type": "noop", "metadata": {"note": "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"}})
        for name in ["lost-a", "lost-b", "lost-c"]:
            self.push({"id": name, "type": "probe", "max_attempts": 1, "input": {"url": "file://" + storage + "/in/" + name + ".mp4"}})
        self.push({"id": "later", "type": "noop", "delay_ms": 3600000})
        until("the jobs to finish", lambda: self.counts()["completed"] == 62 and self.counts()["dead"] == 3, timeout=180)

        # 1. The overview's counts are Redis's.
        self.open(a.main, "/")
        expected = self.counts()
        for state, value in expected.items():
            cell = self.driver.find_element(By.CSS_SELECTOR, 'section[data-queue="default"] td[data-state="%s"]' % state)
            assert cell.text.strip() == str(value), "overview %s shows %s, Redis has %s" % (state, cell.text, value)
        workers = self.driver.find_element(By.CSS_SELECTOR, 'section[data-queue="default"] td[data-state="workers"]').text
        assert workers == "1", "overview shows %s live workers" % workers
        history = self.driver.find_element(By.CSS_SELECTOR, 'span[data-history="completed"]').text
        assert int(history) >= 62, "throughput history shows %s completed in the last hour" % history
        assert self.driver.find_elements(By.CSS_SELECTOR, "svg rect"), "no chart bars"
        assert not self.driver.find_elements(By.ID, "no-worker-default"), "alert for a queue with a live worker"
        self.r.rpush("mw:{orphan}:inbox", json.dumps({"id": "nobody-takes-me", "type": "noop"}))
        self.driver.refresh()
        alert = self.driver.find_element(By.ID, "no-worker-orphan").text
        assert "1 jobs are waiting and no live worker" in alert, alert
        self.shot("overview")

        # 2. Paging: 62 completed jobs make two pages of 50.
        self.open(a.main, "/jobs?queue=default&state=completed")
        first = [row.get_attribute("data-job") for row in self.driver.find_elements(By.CSS_SELECTOR, "tr[data-job]")]
        self.shot("jobs")
        self.click(self.driver.find_element(By.ID, "next"))
        second = [row.get_attribute("data-job") for row in self.driver.find_elements(By.CSS_SELECTOR, "tr[data-job]")]
        expected_ids = {"ok-%02d" % i for i in range(60)} | {"xss", "film"}
        assert len(first) == 50 and len(second) == 12 and set(first) | set(second) == expected_ids, "pages hold %s and %s" % (first, second)
        finished = [int(self.r.hget(BASE + "job:" + i, "finished_at")) for i in first + second]
        assert finished == sorted(finished, reverse=True), "completed jobs are not newest first"

        # 3. Search by movie id and by file_id.
        self.open(a.main, "/jobs?queue=default")
        box = self.driver.find_element(By.ID, "search")
        box.send_keys("movie-1")
        self.click(self.driver.find_element(By.ID, "search-button"))
        found = sorted(row.get_attribute("data-job") for row in self.driver.find_elements(By.CSS_SELECTOR, "tr[data-job]"))
        assert found == sorted("ok-%02d" % i for i in range(60) if i % 3 == 1), "movie search found %s" % found
        self.open(a.main, "/jobs?queue=default&q=file-07")
        assert [row.get_attribute("data-job") for row in self.driver.find_elements(By.CSS_SELECTOR, "tr[data-job]")] == ["ok-07"]

        # 4. A dead job found by id is retried from its page and runs.
        self.open(a.main, "/jobs?queue=default")
        self.driver.find_element(By.ID, "search").send_keys("lost-a")
        self.click(self.driver.find_element(By.ID, "search-button"))
        self.click(self.driver.find_element(By.LINK_TEXT, "lost-a"))
        assert self.driver.find_element(By.ID, "field-state").text == "dead"
        assert self.driver.find_element(By.ID, "field-error_code").text != ""
        self.shot("job-dead")
        shutil.copyfile(a.fixture, os.path.join(storage, "in", "lost-a.mp4"))
        self.click(self.driver.find_element(By.CSS_SELECTOR, 'button[data-action="Retry"]'))
        assert "retried lost-a" in self.driver.find_element(By.ID, "notice").text
        until("lost-a to complete", lambda: self.state("lost-a") == "completed")
        self.driver.refresh()
        until("the page to show completed", lambda: self.driver.find_element(By.ID, "field-state").text == "completed" or self.driver.refresh())
        types = [cell.text for cell in self.driver.find_elements(By.CSS_SELECTOR, "td.event-type")]
        assert types[-1] == "ProbeCompleted" and "JobRequeued" in types and types.index("JobRequeued") < len(types) - 2 and \
            types[:3] == ["JobQueued", "JobStarted", "ProbeFailed"], "events of lost-a: %s" % types
        self.shot("job")

        # 5. Bulk retry from the dead letters.
        for name in ["lost-b", "lost-c"]:
            shutil.copyfile(a.fixture, os.path.join(storage, "in", name + ".mp4"))
        self.open(a.main, "/dead?queue=default")
        self.shot("dead")
        self.click(self.driver.find_element(By.CSS_SELECTOR, 'button[data-action="Retry all"]'))
        assert "retried 2 dead jobs" in self.driver.find_element(By.ID, "notice").text
        until("lost-b and lost-c to complete", lambda: self.state("lost-b") == "completed" and self.state("lost-c") == "completed")

        # 6. A transcode's page shows its outputs and its poster, read from storage.
        self.open(a.main, "/job?queue=default&id=film")
        outputs = self.driver.find_element(By.CSS_SELECTOR, "ul.outputs").text
        assert "hls_master" in outputs and "poster" in outputs, outputs
        poster = self.driver.find_element(By.ID, "poster")
        until("the poster to load", lambda: self.driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", poster) > 0, timeout=10)
        self.shot("job-transcode")

        # 7. A payload with markup shows as text and runs nothing.
        self.open(a.main, "/job?queue=default&id=xss")
        assert "<script>window.__pwned=1</script>" in self.driver.find_element(By.ID, "metadata").text
        time.sleep(0.5)
        assert self.driver.execute_script("return typeof window.__pwned") == "undefined", "the payload ran"

        # 8. Workers and the live event tail (its script runs under the page's CSP).
        self.push({"id": "slow-1", "type": "noop", "options": {"duration_ms": 6000}})
        until("slow-1 to run", lambda: self.state("slow-1") == "active")
        time.sleep(1.5)
        self.open(a.main, "/workers")
        running = self.driver.find_element(By.CSS_SELECTOR, 'tr[data-worker="dash-worker"] div.running[data-job="slow-1"]')
        assert 0 < int(running.find_element(By.CSS_SELECTOR, "span.percent").text) < 100, running.text
        self.shot("workers")
        self.open(a.main, "/events?queue=default")
        self.push({"id": "live-1", "type": "noop"})
        until("the live tail to show live-1", lambda: "live-1" in self.driver.find_element(By.ID, "live").text, timeout=15)
        self.shot("events")

        # 9. Read-only: no action shown, and a POST is refused even with a good CSRF pair.
        self.open(a.read_only, "/dead?queue=default")
        assert not self.driver.find_elements(By.CSS_SELECTOR, "button"), "read-only page shows actions"
        self.open(a.read_only, "/job?queue=default&id=lost-a")
        assert not self.driver.find_elements(By.CSS_SELECTOR, "form[method=post]")
        status = post(a.read_only + "/dead/retry-all", "queue=default&csrf=abc", {"Cookie": "mw_csrf=abc"})
        assert status == 403, "read-only POST answered %s" % status

        # 10. CSRF: a POST without the cookie's value is refused on the main dashboard.
        self.push({"id": "doomed", "type": "noop", "max_attempts": 1, "options": {"fail_with": {"code": "DRILL"}}})
        until("doomed to die", lambda: self.state("doomed") == "dead")
        status = post(a.main + "/job/delete", "queue=default&id=doomed", {})
        assert status == 403 and self.state("doomed") == "dead", "a POST without CSRF answered %s" % status
        status = post(a.main + "/job/delete", "queue=default&id=doomed&csrf=abc", {"Cookie": "mw_csrf=abc", "Origin": "http://evil.example"})
        assert status == 403 and self.state("doomed") == "dead", "a cross-site POST answered %s" % status

        # 11. Off loopback a token is needed: refused without, Bearer works, and so does the login form.
        assert get_status(a.remote + "/") == 302, "GET without token was not sent to the login page"
        assert get_status(a.remote + "/api/events?queue=default", {"Authorization": "Bearer wrong-token-wrong-token"}) == 401
        assert post(a.remote + "/dead/retry-all", "queue=default", {}) == 401
        assert get_status(a.remote + "/workers", {"Authorization": "Bearer " + a.token}) == 200
        # After logging in, only a path of this site: never another host (a backslash is a slash to browsers).
        for target in ["//evil.example/", "/\\evil.example/", "https://evil.example/"]:
            location = login_redirect(a.remote, a.token, target)
            assert location == "/", "login sent to %r for next=%r" % (location, target)
        self.open(a.remote, "/dead?queue=default")
        assert "/login" in self.driver.current_url
        self.driver.find_element(By.ID, "token").send_keys("not-the-token-at-all")
        self.click(self.driver.find_element(By.ID, "login"))
        assert self.driver.find_elements(By.CSS_SELECTOR, ".alert"), "a wrong token was not refused"
        self.driver.find_element(By.ID, "token").send_keys(a.token)
        self.click(self.driver.find_element(By.ID, "login"))
        assert self.driver.current_url.endswith("/dead?queue=default"), self.driver.current_url
        self.click(self.driver.find_element(By.CSS_SELECTOR, 'tr[data-job="doomed"] button[data-action="Delete"]'))
        assert "deleted doomed" in self.driver.find_element(By.ID, "notice").text
        assert self.r.exists(BASE + "job:doomed") == 0

        # 12. Webhooks: the endpoint (nobody listens there) shows its failed attempts; redeliver one.
        self.open(a.main, "/webhooks?queue=default")
        outcomes = [cell.text for cell in self.driver.find_elements(By.CSS_SELECTOR, "section.webhook td.outcome")]
        assert outcomes and set(outcomes) == {"retry"}, "webhook outcomes shown: %s" % outcomes
        self.shot("webhooks")
        self.click(self.driver.find_element(By.CSS_SELECTOR, 'button[data-action="Redeliver"]'))
        assert "will be delivered again" in self.driver.find_element(By.ID, "notice").text
        print(json.dumps({"ok": True, "counts": expected}))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def request(url, data=None, headers=None):
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data.encode() if data is not None else None, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with opener.open(req, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def login_redirect(base, token, target):
    """Logs in through the form (with a CSRF pair) and returns where it sends the browser."""
    opener = urllib.request.build_opener(NoRedirect)
    data = urllib.parse.urlencode({"token": token, "next": target, "csrf": "abc"}).encode()
    req = urllib.request.Request(base + "/login", data=data, headers={"Cookie": "mw_csrf=abc",
                                 "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with opener.open(req, timeout=10) as response:
            return response.headers.get("Location")
    except urllib.error.HTTPError as error:
        return error.headers.get("Location")


def post(url, data, headers):
    return request(url, data, headers)


def get_status(url, headers=None):
    return request(url, None, headers)


def main():
    parser = argparse.ArgumentParser()
    for name in ["--redis", "--main", "--read-only", "--remote", "--token", "--storage", "--fixture"]:
        parser.add_argument(name, required=True)
    parser.add_argument("--screenshots")
    args = parser.parse_args()
    checks = Checks(args)
    try:
        checks.run()
    except Exception as failure:
        checks.shot("failure")
        page = checks.driver.find_element(By.TAG_NAME, "body").text[:2000]
        print("FAILED: %s: %s (at %s)\npage: %s" % (type(failure).__name__, str(failure).split("Stacktrace")[0], checks.driver.current_url, page),
              file=sys.stderr)
        return 1
    finally:
        checks.driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
