"""The API proxy (docs/proxy.md): apps call Priava through the daemon, which carries the token,
the region and Priava's rate budget for them. The real binary against the fake Priava's API."""

import datetime
import hashlib
import http.client
import json
import os
import pwd
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import E2ETestCase, request, request_json

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = "/v1/proxy/"


def proxy_section(**overrides):
    section = {"enabled": True}
    section.update(overrides)
    return section


class ProxyTestCase(E2ETestCase):
    def proxied_daemon(self, listen=None, **proxy):
        extra = {"listen": listen} if listen else {}
        return self.bootstrapped_daemon(proxy=proxy_section(**proxy), **extra)

    def call(self, d, method, path, body=None, headers=None, timeout=60):
        return request(d.socket, method, PROXY + path, body, headers, timeout)

    def call_json(self, d, method, path, body=None, headers=None, timeout=60):
        return request_json(d.socket, method, PROXY + path, body, headers, timeout)


class ProxyBasics(ProxyTestCase):
    def test_a_call_reaches_priava_with_the_token_and_the_region(self):
        d = self.proxied_daemon()
        status, headers, body = self.call_json(d, "GET", "ping")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"ok": True, "region": "APAC"})
        self.assertIn("priava-tokend-queue-ms", headers)
        self.assertEqual(self.fake.stats()["api_ok"], 1)

    def test_the_apps_authorization_and_region_are_replaced_and_the_token_never_comes_back(self):
        d = self.proxied_daemon()
        token = d.token()["access_token"]
        status, headers, body = self.call_json(
            d, "POST", "echo?x=1", b"{}",
            {"Authorization": "Bearer app-made-this-up", "TenantRegion": "EU",
             "Content-Type": "application/json", "X-App": "kept",
             "Connection": "keep-alive, X-Hop", "X-Hop": "dropped",
             "Priava-Tokend-Client": "dropped"})
        self.assertEqual(status, 200, body)
        sent = {k.lower(): v for k, v in body["headers"].items()}
        self.assertEqual(sent["authorization"], "valid")  # the fake checked it was the token
        self.assertEqual(sent["tenantregion"], "APAC")
        self.assertEqual(sent["x-app"], "kept")
        self.assertEqual(sent["content-type"], "application/json")
        for dropped in ("x-hop", "priava-tokend-client"):
            self.assertNotIn(dropped, sent)
        self.assertEqual(body["query"], "x=1")
        everything = json.dumps(dict(headers)) + json.dumps(body)
        self.assertNotIn(token, everything)
        self.assertNotIn(token, d.logs())

    def test_priavas_own_errors_reach_the_app_unchanged(self):
        d = self.proxied_daemon()
        status, _, body = self.call_json(d, "GET", "events/nope")
        self.assertEqual(status, 404)
        self.assertEqual(body["error"], "not_found")
        status, headers, body = self.call_json(d, "DELETE", "echo")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "POST, PUT, PATCH")

    def test_traversal_and_encoded_separators_are_refused_before_priava(self):
        d = self.proxied_daemon()
        for path in ("../oauth/token", "events/%2e%2e/x", "events%2Fx", "a/%00", "a//b"):
            status, _, body = self.call_json(d, "GET", path)
            self.assertEqual(status, 400, path)
            self.assertEqual(body["error"], "bad_request", path)
        status, _, body = request_json(d.socket, "GET", "http://localhost/v1/proxy/ping")
        self.assertEqual(status, 400, "an absolute-form target")
        status, headers, body = self.call_json(d, "TRACE", "ping")
        self.assertEqual(status, 405, "TRACE would echo the token back")
        self.assertIn("priava-tokend-queue-ms", headers)
        self.assertEqual(self.fake.stats()["api_requests"], 0)

    def test_the_proxy_is_off_by_default(self):
        d = self.bootstrapped_daemon()
        status, _, body = request_json(d.socket, "GET", PROXY + "ping")
        self.assertEqual(status, 404)
        self.assertIn("[proxy] enabled = true", body["error_description"])

    def test_upstream_connections_are_kept_alive_and_reused(self):
        d = self.proxied_daemon()
        for _ in range(5):
            status, _, _ = self.call(d, "GET", "events")
            self.assertEqual(status, 200)
        pool = d.status()["proxy"]["upstream_connections"]
        self.assertEqual(pool["opened"], 1, pool)
        self.assertEqual(pool["reused"], 4, pool)


NOBODY = pwd.getpwnam("nobody")
DAEMON_USER = pwd.getpwnam("daemon")


def flood(d, path, count, user=None):
    """Starts a client app (as `user`) sending `count` calls at once; `finish` gives its results."""
    args = [sys.executable, "-B", os.path.join(HERE, "proxy_flood.py"), d.socket, path, str(count)]
    if user is not None:
        args = ["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid,
                "--clear-groups", *args]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=HERE)


def finish(proc):
    out, err = proc.communicate(timeout=180)
    if proc.returncode != 0:
        raise AssertionError("client app failed: %s" % err)
    return json.loads(out)


@unittest.skipUnless(os.geteuid() == 0, "needs root to run client apps as other users")
class OneBudgetForAllApps(ProxyTestCase):
    BUDGET = 10
    WINDOW_S = 3

    def setUp(self):
        super().setUp()
        os.chmod(self.dir, 0o755)  # other users reach the socket inside the test directory

    def test_three_apps_sending_three_budgets_all_get_200_and_a_quiet_one_is_served_early(self):
        # Priava counts in fixed windows; the bootstrap's code exchange is one request the
        # daemon never saw, so the fake allows one more than the daemon's budget.
        self.fake.set_rate_limit(self.BUDGET + 1, self.WINDOW_S * 1000)
        d = self.proxied_daemon(budget=self.BUDGET, window="%ds" % self.WINDOW_S,
                                max_queue_wait="60s", max_concurrent=4, listen={"mode": "0666"})
        flooding = flood(d, "events", 2 * self.BUDGET, NOBODY)
        busy = flood(d, "ping", self.BUDGET - 1, DAEMON_USER)
        self.wait_for_queue(d, at_least=self.BUDGET)
        quiet_started = time.monotonic()
        status, headers, _ = self.call(d, "GET", "ping")  # root: a third client
        quiet_took = time.monotonic() - quiet_started
        flooded = finish(flooding)
        finish_busy = finish(busy)
        self.assertEqual(status, 200)
        every = flooded + finish_busy
        self.assertEqual([s for s, _ in every], [200] * len(every), every)
        stats = self.fake.stats()
        self.assertEqual(stats["rate_limited"], 0, stats)
        self.assertLessEqual(stats["most_in_window"], self.BUDGET + 1, stats)
        # Round-robin: the quiet app waits for the next free slot, not behind the flood.
        last_flooded = max(t for _, t in flooded)
        self.assertLess(quiet_took, self.WINDOW_S + 2, (quiet_took, last_flooded))
        self.assertLess(quiet_took + 2, last_flooded, (quiet_took, last_flooded))
        self.assertGreater(int(headers["priava-tokend-queue-ms"]), 0)

    def wait_for_queue(self, d, at_least):
        """Until `at_least` calls wait in the daemon's queue (each look is a request)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if d.status()["proxy"]["queued"] >= at_least:
                return
        self.fail("the queue never reached %d" % at_least)


class ProxyBodies(ProxyTestCase):
    def test_a_5_mb_post_arrives_byte_identical(self):
        d = self.proxied_daemon()
        body = os.urandom(5 * 1024 * 1024)
        status, _, echoed = self.call_json(d, "POST", "echo", body,
                                           {"Content-Type": "application/octet-stream"})
        self.assertEqual(status, 200, echoed)
        self.assertEqual(echoed["bytes"], len(body))
        self.assertEqual(echoed["sha256"], hashlib.sha256(body).hexdigest())

    def test_a_body_over_max_request_body_is_413_and_never_sent(self):
        d = self.proxied_daemon()
        status, headers, answer = self.call_json(d, "POST", "echo", b"x" * (9 * 1024 * 1024))
        self.assertEqual(status, 413)
        self.assertEqual(headers["priava-tokend-queue-ms"], "0")
        self.assertIn("max_request_body", answer["error_description"])
        self.assertEqual(self.fake.stats()["api_requests"], 0)

    def test_expect_100_continue_is_answered_so_curl_does_not_wait(self):
        d = self.proxied_daemon()
        path = os.path.join(self.dir, "big.json")
        with open(path, "wb") as f:
            f.write(b"[" + b"1," * (2 * 1024 * 1024) + b"1]")
        r = subprocess.run(["curl", "-sS", "--unix-socket", d.socket, "-H",
                            "Content-Type: application/json", "--data-binary", "@" + path,
                            "-w", "\n%{time_total}", "http://localhost/v1/proxy/echo"],
                           capture_output=True, text=True, timeout=60)
        body, took = r.stdout.rsplit("\n", 1)
        self.assertEqual(json.loads(body)["bytes"], os.path.getsize(path))
        self.assertLess(float(took), 0.9, "curl waited for a 100 Continue that never came")

    @unittest.skipIf(os.environ.get("PRIAVA_TOKEND_SANITIZE"),
                     "a sanitizer's shadow memory makes the resident set meaningless")
    def test_a_100_mb_response_streams_to_a_slow_reader_in_flat_memory(self):
        d = self.proxied_daemon()
        size = 100 * 1024 * 1024
        before = resident_kib(d.proc.pid)
        sock = socket.socket(socket.AF_UNIX)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect(d.socket)
        sock.sendall(b"GET /v1/proxy/bytes?count=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % size)
        got = 0
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, rest = head.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        got += len(rest)
        peak = before
        while got < size:
            chunk = sock.recv(256 * 1024)
            self.assertTrue(chunk, "the stream ended after %d bytes" % got)
            got += len(chunk)
            if got % (8 * 1024 * 1024) < len(chunk):
                peak = max(peak, resident_kib(d.proc.pid))
                time.sleep(0.05)  # a slow reader: the daemon must wait for it, not buffer
        sock.close()
        self.assertEqual(got, size)
        self.assertLess(peak - before, 16 * 1024, "resident set grew by %d KiB" % (peak - before))
        self.assertLess(high_water_kib(d.proc.pid) - before, 16 * 1024)

    def test_an_upstream_reset_mid_body_ends_the_apps_connection(self):
        d = self.proxied_daemon()
        with self.assertRaises(http.client.IncompleteRead):
            request(d.socket, "GET", PROXY + "broken?count=1000000")
        self.assertIn("broke off", d.logs())
        status, _, _ = self.call(d, "GET", "ping")  # the next call is not harmed
        self.assertEqual(status, 200)


def resident_kib(pid):
    return status_kib(pid, "VmRSS")


def high_water_kib(pid):
    return status_kib(pid, "VmHWM")


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (field, pid))


class ProxyRetries(ProxyTestCase):
    def test_50_calls_meeting_a_revoked_token_cause_one_refresh_and_all_end_200(self):
        d = self.proxied_daemon(max_concurrent=64)
        self.assertEqual(self.call(d, "GET", "ping")[0], 200)
        before = self.fake.stats()["refresh_grants"]
        self.fake.revoke_access()
        results = []
        lock = threading.Lock()

        def one():
            status, _, _ = self.call(d, "GET", "events")
            with lock:
                results.append(status)

        threads = [threading.Thread(target=one) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [200] * 50)
        self.assertEqual(self.fake.stats()["refresh_grants"], before + 1)
        proxy = d.status()["proxy"]
        self.assertEqual(proxy["retries_401"], self.fake.stats()["api_unauthorized"])
        self.assertLessEqual(proxy["retries_401"], 50)

    def test_a_refresh_rejected_after_a_401_answers_503_reauth_required_without_looping(self):
        d = self.proxied_daemon()
        self.fake.revoke_access()
        self.fake.revoke()  # the refresh token too: the refresh gets invalid_grant
        status, _, body = self.call_json(d, "GET", "events")
        self.assertEqual(status, 503)
        self.assertEqual(body["error"], "reauth_required")
        stats = self.fake.stats()
        self.assertEqual(stats["api_unauthorized"], 1)
        self.assertEqual(stats["rejections_by_error"].get("invalid_grant"), 1)
        # The held token is still served (it may work for its remaining life): sent once, its
        # 401 goes to no second refresh.
        status, _, body = self.call_json(d, "GET", "events")
        self.assertEqual((status, body["error"]), (503, "reauth_required"))
        stats = self.fake.stats()
        self.assertEqual(stats["api_requests"], 2, "each call sent once")
        self.assertEqual(stats["rejections_by_error"].get("invalid_grant"), 1)

    def test_the_cli_api_command(self):
        d = self.proxied_daemon()
        r = d.cli("api", "--socket", d.socket, "GET", "events?from=2026-01-01")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["query"], "from=2026-01-01")
        path = os.path.join(self.dir, "body.json")
        with open(path, "w") as f:
            f.write('{"name": "Gala"}')
        r = d.cli("api", "--socket", d.socket, "post", "/echo", "--data", "@" + path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["bytes"], 16)
        r = d.cli("api", "--socket", d.socket, "PUT", "echo", "--data", "-", input="[1]")
        self.assertEqual((r.returncode, json.loads(r.stdout)["bytes"]), (0, 3))
        r = d.cli("api", "--socket", d.socket, "GET", "events/nope")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["error"], "not_found")
        self.assertIn("HTTP 404", r.stderr)
        r = d.cli("api", "--socket", os.path.join(self.dir, "none.sock"), "GET", "events")
        self.assertEqual(r.returncode, 69)
        r = d.cli("api", "GET")
        self.assertEqual(r.returncode, 64)


def seconds_ahead(seconds):
    """Priava's retry-after: a UTC date without a zone, whole seconds."""
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%S")


class PriavasRetryAfter(ProxyTestCase):
    WINDOW_S = 4

    def paused_call(self, retry_after):
        """One call whose first attempt gets Priava's 429 with `retry_after`; meanwhile a
        second app's call. Returns both calls' queue times in seconds."""
        d = self.proxied_daemon(window="%ds" % self.WINDOW_S, max_queue_wait="20s")
        self.assertEqual(self.call(d, "GET", "ping")[0], 200)
        self.fake.answer_api_429s([retry_after() if callable(retry_after) else retry_after])
        sent_before = self.fake.stats()["api_requests"]
        first = {}

        def paused():
            first["answer"] = self.call(d, "GET", "events")

        t = threading.Thread(target=paused)
        t.start()
        self.wait_for(lambda: d.status()["proxy"]["paused_until"] is not None)
        during = self.fake.stats()["api_requests"]
        status, headers, _ = self.call(d, "GET", "ping")
        t.join()
        self.assertEqual(status, 200)
        self.assertEqual(first["answer"][0], 200)
        # Nothing was sent while paused: the 429'd call and the one behind it, once each.
        self.assertEqual(during, sent_before + 1)
        self.assertEqual(self.fake.stats()["api_requests"], sent_before + 3)
        self.assertEqual(d.status()["proxy"]["retries_429"], 1)
        return (int(first["answer"][1]["priava-tokend-queue-ms"]) / 1000,
                int(headers["priava-tokend-queue-ms"]) / 1000)

    def wait_for(self, predicate):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if predicate():
                return
        self.fail("never happened")

    def test_a_valid_date_pauses_until_then(self):
        # Priava's date has whole seconds: 4 s ahead, written when the 429 is armed, is 3 to 4 s.
        waited, behind = self.paused_call(lambda: seconds_ahead(4))
        self.assertGreaterEqual(waited, 2.0)
        self.assertLess(waited, 4.5)

    def test_missing_garbage_or_past_dates_pause_one_second(self):
        for retry_after in (None, "soon-ish", "2001-01-01T00:00:00"):
            with self.subTest(retry_after=retry_after):
                waited, behind = self.paused_call(retry_after)
                self.assertGreaterEqual(waited, 0.9)
                self.assertLess(waited, 2.5)
                self.tearDown()
                self.setUp()

    def test_a_day_ahead_is_clamped_to_the_window(self):
        waited, behind = self.paused_call(lambda: seconds_ahead(24 * 3600))
        self.assertGreaterEqual(waited, self.WINDOW_S - 0.5)
        self.assertLess(waited, self.WINDOW_S + 1.5)


class ProxyQueueLimits(ProxyTestCase):
    def test_a_client_leaving_while_queued_frees_its_place_and_spends_nothing(self):
        d = self.proxied_daemon(budget=1, window="3s", max_queue_wait="20s")
        self.assertEqual(self.call(d, "GET", "ping")[0], 200)  # the budget is spent
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(d.socket)
        sock.sendall(b"GET /v1/proxy/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.wait_for_status(d, lambda p: p["queued"] == 1)
        sock.close()
        self.wait_for_status(d, lambda p: p["queued"] == 0)
        status, headers, _ = self.call(d, "GET", "ping")  # waits for the window, then goes
        self.assertEqual(status, 200)
        self.assertEqual(self.fake.stats()["api_requests"], 2, "the abandoned call never went")

    def test_beyond_max_queue_wait_the_daemon_answers_429_with_retry_after(self):
        d = self.proxied_daemon(budget=1, window="60s", max_queue_wait="1s")
        self.assertEqual(self.call(d, "GET", "ping")[0], 200)
        status, headers, body = self.call_json(d, "GET", "events")
        self.assertEqual(status, 429)
        self.assertEqual(body["error"], "budget_exhausted")
        self.assertGreaterEqual(int(headers["retry-after"]), 50)
        self.assertGreaterEqual(int(headers["priava-tokend-queue-ms"]), 1000)
        self.assertEqual(self.fake.stats()["api_requests"], 1)
        metrics = request(d.socket, "GET", "/metrics")[2].decode()
        self.assertIn('priava_tokend_proxy_requests_total{code="429"} 1', metrics)
        self.assertIn("priava_tokend_priava_requests_in_window ", metrics)

    def test_beyond_max_queued_the_daemon_answers_429_at_once(self):
        d = self.proxied_daemon(budget=1, window="60s", max_queue_wait="30s", max_queued=1)
        self.assertEqual(self.call(d, "GET", "ping")[0], 200)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(d.socket)
        sock.sendall(b"GET /v1/proxy/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.wait_for_status(d, lambda p: p["queued"] == 1)
        status, headers, body = self.call_json(d, "GET", "events")
        sock.close()
        self.assertEqual((status, body["error"]), (429, "queue_full"))
        self.assertIn("retry-after", headers)

    def wait_for_status(self, d, predicate):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if predicate(d.status()["proxy"]):
                return
        self.fail("the proxy never reached that state: %r" % d.status()["proxy"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScriptedUpstream:
    """A TLS server standing in for Priava's API host, scripted to fail in one way:
    `silent` reads the request and never answers, `no_tls` accepts and never speaks TLS,
    `close_after_answer` answers each request 200 (as keep-alive) and then closes the connection,
    as a server does with a connection idle past its limit."""

    def __init__(self, fake_dir, behaviour, cert="server"):
        self.behaviour = behaviour
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(os.path.join(fake_dir, cert + ".pem"),
                                 os.path.join(fake_dir, cert + ".key"))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests = []
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self):
        return "https://127.0.0.1:%d/api/rest" % self.port

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)
            if self.behaviour == "no_tls":
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        try:
            tls = self.tls.wrap_socket(conn, server_side=True)
            self.held.append(tls)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests.append(data.split(b"\r\n", 1)[0].decode())
            if self.behaviour == "close_after_answer":
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                tls.close()
        except (OSError, ssl.SSLError):
            return

    def stop(self):
        self.listener.close()
        for c in self.held:
            try:
                c.close()
            except OSError:
                pass


class ProxyUpstreamFailures(ProxyTestCase):
    """The connection to Priava's API host: TLS on the daemon's own descriptor, its deadline, and
    a kept-alive connection the server closed."""

    def upstream(self, behaviour, cert="server"):
        u = ScriptedUpstream(self.fake.dir, behaviour, cert)
        self.addCleanup(u.stop)
        return u

    def test_an_untrusted_certificate_is_502_and_no_request_is_sent(self):
        u = self.upstream("silent", cert="untrusted")
        d = self.proxied_daemon(upstream=u.url())
        status, _, body = self.call_json(d, "GET", "events")
        self.assertEqual((status, body["error"]), (502, "upstream_unreachable"), body)
        self.assertIn("certificate not trusted", body["error_description"])
        self.assertEqual(u.requests, [])

    def assert_timed_out_after_a_second(self, behaviour, stage):
        u = self.upstream(behaviour)
        d = self.proxied_daemon(upstream=u.url(), upstream_timeout="1s")
        began = time.monotonic()
        status, _, body = self.call_json(d, "GET", "events")
        elapsed = time.monotonic() - began
        self.assertEqual((status, body["error"]), (504, "upstream_timeout"), body)
        self.assertIn(stage, body["error_description"])
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertLess(elapsed, 5.0)

    def test_an_upstream_that_never_answers_is_504_after_upstream_timeout(self):
        self.assert_timed_out_after_a_second("silent", "no response head")

    def test_an_upstream_that_never_speaks_tls_is_504_after_upstream_timeout(self):
        self.assert_timed_out_after_a_second("no_tls", "TLS handshake")

    def assert_sigterm_ends_a_stuck_call_after_the_drain(self, behaviour):
        # upstream_timeout is a minute; the daemon must not wait it out when told to stop: it
        # drains for 5 s, then ends the calls to Priava still running.
        u = self.upstream(behaviour)
        d = self.proxied_daemon(upstream=u.url())
        answers = []

        def call():
            try:
                answers.append(self.call(d, "GET", "events"))
            except (OSError, http.client.HTTPException) as e:
                answers.append(e)

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 10
        while not (u.connections if behaviour == "no_tls" else u.requests):
            self.assertLess(time.monotonic(), deadline, "the call never reached Priava")
            time.sleep(0.02)  # polling the scripted server, with a deadline
        began = time.monotonic()
        self.assertEqual(d.stop(timeout=20), 0)
        self.assertLess(time.monotonic() - began, 10.0)
        caller.join(5)
        # After the drain the daemon closes what is still open (docs/differences.md): the app sees
        # its connection end, never a cut answer taken for whole.
        self.assertEqual(len(answers), 1)
        self.assertIsInstance(answers[0], http.client.RemoteDisconnected)

    def test_sigterm_ends_a_call_stuck_in_the_tls_handshake(self):
        self.assert_sigterm_ends_a_stuck_call_after_the_drain("no_tls")

    def test_sigterm_ends_a_call_waiting_for_priavas_answer(self):
        self.assert_sigterm_ends_a_stuck_call_after_the_drain("silent")

    def test_a_kept_alive_connection_the_server_closed_is_replaced_for_a_get_only(self):
        u = self.upstream("close_after_answer")
        d = self.proxied_daemon(upstream=u.url())
        self.assertEqual(self.call(d, "GET", "events")[0], 200)
        # The daemon keeps the connection; the server has closed it. A GET goes again on a new
        # connection, unseen by the app.
        self.assertEqual(self.call(d, "GET", "events")[0], 200)
        self.assertEqual(u.connections, 2)
        # A POST is never sent twice: Priava may have taken it before closing.
        status, _, body = self.call_json(d, "POST", "echo", b"{}",
                                         {"Content-Type": "application/json"})
        self.assertEqual((status, body["error"]), (502, "upstream_unreachable"), body)
        self.assertEqual(u.requests, ["GET /api/rest/events HTTP/1.1"] * 2)


class ProxyOverTcp(ProxyTestCase):
    AUTH = "tcp-auth-0123456789abcdef0123456789abcdef"

    def tcp_daemon(self, **proxy):
        self.token_file = os.path.join(self.dir, "tcp_auth")
        with open(self.token_file, "w") as f:
            f.write(self.AUTH + "\n")
        os.chmod(self.token_file, 0o600)
        self.extra_secrets.append(self.AUTH)
        self.port = free_port()
        return self.proxied_daemon(listen_tcp="127.0.0.1:%d" % self.port,
                                   tcp_auth_token_file=self.token_file, **proxy)

    def tcp(self, method, target, headers=None, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def test_with_the_auth_header_apps_call_priava_and_get_tokens(self):
        d = self.tcp_daemon()
        auth = {"Priava-Tokend-Auth": self.AUTH, "Priava-Tokend-Client": "reports"}
        status, headers, body = self.tcp("GET", PROXY + "ping", auth)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["region"], "APAC")
        self.assertIn("priava-tokend-queue-ms", headers)
        upload = os.urandom(5 * 1024 * 1024)
        status, _, body = self.tcp("POST", PROXY + "echo", auth, upload)
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(json.loads(body)["sha256"], hashlib.sha256(upload).hexdigest())
        sent = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
        self.assertNotIn("priava-tokend-auth", sent, "the TCP token is not passed on")
        self.assertNotIn("priava-tokend-client", sent)
        status, _, body = self.tcp("GET", "/v1/status", auth)
        self.assertEqual(status, 200)
        status, _, body = self.tcp("POST", "/v1/token/refresh", auth, b"x" * 2048)
        self.assertEqual(status, 413, "the socket API's own endpoints keep their 1 KiB limit")

    def test_a_missing_or_wrong_auth_header_is_401(self):
        d = self.tcp_daemon()
        for headers in ({}, {"Priava-Tokend-Auth": self.AUTH[:-1] + "X"},
                        {"Priava-Tokend-Auth": self.AUTH[:8]}):
            status, _, body = self.tcp("GET", PROXY + "ping", headers)
            self.assertEqual(status, 401, headers)
            self.assertEqual(json.loads(body)["error"], "unauthorized")
        self.assertEqual(self.fake.stats()["api_requests"], 0)
        self.assertEqual(self.tcp("GET", "/livez")[0], 200, "health probes need no token")
        self.assertEqual(self.tcp("GET", "/readyz")[0], 200)

    def test_relayed_requests_and_foreign_hosts_are_403(self):
        d = self.tcp_daemon()
        auth = {"Priava-Tokend-Auth": self.AUTH}
        for extra in ({"X-Forwarded-For": "10.0.0.1"}, {"Forwarded": "for=10.0.0.1"},
                      {"Via": "1.1 squid"}, {"Host": "rebound.example:%d" % self.port}):
            status, _, body = self.tcp("GET", PROXY + "ping", dict(auth, **extra))
            self.assertEqual(status, 403, extra)
        self.assertEqual(self.tcp("GET", PROXY + "ping", dict(auth, Host="localhost"))[0], 200)
        self.assertEqual(self.fake.stats()["api_requests"], 1)

    def test_bootstrap_is_not_served_on_tcp(self):
        d = self.tcp_daemon()
        status, _, _ = self.tcp("POST", "/v1/bootstrap", {"Priava-Tokend-Auth": self.AUTH,
                                "Content-Type": "application/x-www-form-urlencoded"}, b"code=x")
        self.assertEqual(status, 403)

    def test_a_non_loopback_listen_tcp_is_refused(self):
        d = self.daemon(proxy=proxy_section(listen_tcp="0.0.0.0:8445",
                                            tcp_auth_token_file="/run/x"))
        r = d.cli("check-config", "--config", d.config)
        self.assertEqual(r.returncode, 78)
        self.assertIn("proxy.listen_tcp", r.stdout + r.stderr)
        self.assertIn("not a loopback address", r.stdout + r.stderr)

    def test_a_token_file_others_may_read_is_refused_at_start(self):
        token_file = os.path.join(self.dir, "tcp_auth")
        with open(token_file, "w") as f:
            f.write(self.AUTH)
        os.chmod(token_file, 0o644)
        self.extra_secrets.append(self.AUTH)
        d = self.daemon(proxy=proxy_section(listen_tcp="127.0.0.1:%d" % free_port(),
                                            tcp_auth_token_file=token_file))
        self.assertEqual(d.bootstrap().returncode, 0)
        proc = subprocess.run([harness.DAEMON, "run", "--config", d.config],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 78, proc.stderr)
        self.assertIn("proxy.tcp_auth_token_file", proc.stderr)
        self.assertNotIn(self.AUTH[:8], proc.stderr)


if __name__ == "__main__":
    unittest.main()
