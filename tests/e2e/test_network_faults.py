"""Every network fault the fake can make, against the running daemon: classified, backed off,
the held token served meanwhile, recovery once the fault clears. (The leak scan in tearDown
checks that nothing logged holds a secret.)"""

import json
import time
import unittest

from harness import E2ETestCase, request

# min_backoff 100 ms, max_backoff 400 ms: in a window of W seconds a backing-off daemon makes at
# most W / 0.1 + 1 attempts. The lower bound leaves room for slow attempts (a sanitizer build on a
# loaded machine takes a few hundred milliseconds per TLS handshake): two attempts in two seconds
# still rules out a backoff that outgrew max_backoff.
BACKOFF = {"min_backoff": "100ms", "max_backoff": "400ms", "request_timeout": "1s"}
WINDOW = 2


def transient_errors(d):
    status, _, data = request(d.socket, "GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith('priava_tokend_refresh_total{result="transient_error"}'):
            return int(line.split()[-1])
    raise AssertionError("no transient_error counter in /metrics")


class NetworkFaults(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.d = self.bootstrapped_daemon(refresh=BACKOFF)
        self.held = self.d.token()

    def assert_transient(self, expected_error, break_priava, heal_priava, attempt_seconds=0.0):
        d = self.d
        break_priava()
        status, headers, _ = d.post("/v1/token/refresh")
        self.assertEqual(status, 503)
        self.assertIn("retry-after", headers)
        st = d.wait_status(lambda s: s["consecutive_failures"] >= 2, seconds=20)
        self.assertEqual(st["last_error"]["error"], expected_error, st)
        self.assertIn(st["state"], ("retrying", "refreshing"))
        # Backoff, counted over a fixed window (the daemon's own long poll times it). Attempts
        # are counted by the daemon: a failed TLS handshake never shows at the fake.
        before = transient_errors(d)
        self.assertEqual(d.get("/v1/token?newer_than=1000&wait=%d" % WINDOW, timeout=10)[0], 200)
        attempts = transient_errors(d) - before
        self.assertLessEqual(attempts, WINDOW / 0.1 + 1)
        if attempt_seconds == 0:
            self.assertGreaterEqual(attempts, 2)
        # The held token is served all along.
        self.assertEqual(d.token()["access_token"], self.held["access_token"])
        heal_priava()
        recovered = d.wait_generation(2, seconds=20)
        self.assertNotEqual(recovered["access_token"], self.held["access_token"])
        self.assertEqual(d.status()["state"], "valid")
        self.assertEqual(d.status()["consecutive_failures"], 0)
        self.assertEqual(self.fake.stats()["reuse_attempts"], 0)

    def fault(self, **f):
        return lambda: self.fake.faults([dict(f, count=0)])

    def test_connection_refused(self):
        # Refused connections never reach the fake; count attempts in the daemon's metrics.
        d = self.d
        self.fake.stop_listening()
        self.assertEqual(d.post("/v1/token/refresh")[0], 503)
        st = d.wait_status(lambda s: s["consecutive_failures"] >= 3, seconds=20)
        self.assertEqual(st["last_error"]["error"], "connect_failed")
        self.assertEqual(d.token()["access_token"], self.held["access_token"])
        self.fake.start_listening()
        self.assertEqual(d.wait_generation(2, seconds=20)["generation"], 2)

    def test_reset_before_the_reply(self):
        self.assert_transient("connection_lost", self.fault(kind="drop_before"),
                              self.fake.clear_faults)

    def test_stall_past_the_deadline(self):
        self.assert_transient("request_timeout", self.fault(kind="delay", ms=3000),
                              self.fake.clear_faults, attempt_seconds=1.0)

    def test_server_errors(self):
        self.assert_transient("server_error", self.fault(kind="status", status=502),
                              self.fake.clear_faults)

    def test_html_error_pages(self):
        self.assert_transient("server_error", self.fault(kind="html_error"),
                              self.fake.clear_faults)

    def test_malformed_json(self):
        self.assert_transient("malformed_response", self.fault(kind="malformed"),
                              self.fake.clear_faults)

    def test_oversized_reply(self):
        self.assert_transient("response_too_large", self.fault(kind="oversized"),
                              self.fake.clear_faults)

    def test_certificate_for_another_host(self):
        self.assert_transient("tls_failed", lambda: self.fake.certificate("wrong-host"),
                              lambda: self.fake.certificate("server"))
        self.assertIn("certificate not trusted", self.d.logs())

    def test_expired_certificate(self):
        self.assert_transient("tls_failed", lambda: self.fake.certificate("expired"),
                              lambda: self.fake.certificate("server"))
        self.assertIn("expired", self.d.logs())

    def test_a_burst_of_5xx_heals_by_itself(self):
        self.fake.faults([{"kind": "status", "status": 503, "count": 3}])
        self.d.post("/v1/token/refresh")
        self.assertEqual(self.d.wait_generation(2, seconds=20)["generation"], 2)
        self.assertEqual(self.fake.stats()["faults_applied"], 3)
        self.assertEqual(self.d.status()["consecutive_failures"], 0)

    def test_rate_limit_honours_retry_after(self):
        self.fake.faults([{"kind": "rate_limit", "retry_after": 2, "count": 1}])
        self.d.post("/v1/token/refresh")
        st = self.d.status()
        self.assertEqual(st["last_error"]["error"], "rate_limited")
        before = self.fake.stats()["requests"]
        self.d.get("/v1/token?newer_than=1000&wait=1")  # backoff alone would have retried
        self.assertEqual(self.fake.stats()["requests"], before)
        self.assertEqual(self.d.wait_generation(2, seconds=20)["generation"], 2)


class ServedUntilTheMargin(E2ETestCase):
    fake_expires_in = 4

    def test_the_held_token_is_served_until_serve_margin_then_503_until_recovery(self):
        d = self.bootstrapped_daemon(refresh=dict(BACKOFF, serve_margin="1s"))
        held = d.token()
        self.fake.faults([{"kind": "status", "status": 500, "count": 0}])
        d.wait_status(lambda s: s["consecutive_failures"] >= 1, seconds=20)
        # Until the margin: the old token. Past it: 503 with Retry-After, readyz 503.
        seen = set()
        while True:
            status, headers, body = d.get("/v1/token")
            if status != 200:
                break
            self.assertGreaterEqual(body["expires_in"], 1)
            seen.add(body["access_token"])
        self.assertEqual(seen, {held["access_token"]})
        self.assertEqual((status, body["error"]), (503, "token_unavailable"))
        self.assertIn("retry-after", headers)
        self.assertEqual(d.get("/readyz")[0], 503)
        self.assertEqual(d.cli("healthcheck", "--socket", d.socket).returncode, 1)
        self.fake.clear_faults()
        d.wait_generation(held["generation"] + 1, seconds=20)
        self.assertEqual(d.get("/readyz")[0], 200)


class LostReply(E2ETestCase):
    def test_a_reply_lost_after_priava_rotated_needs_a_new_code(self):
        """The one case no client can survive: Priava rotated, the reply never arrived."""
        d = self.bootstrapped_daemon(refresh=BACKOFF)
        self.fake.faults([{"kind": "drop_after", "count": 1}])
        d.post("/v1/token/refresh")
        st = d.wait_status(lambda s: s["state"] == "reauth_required", seconds=20)
        self.assertEqual(st["last_error"]["error"], "invalid_grant")
        self.assertEqual(self.fake.stats()["reuse_attempts"], 1)
        self.assertEqual(d.bootstrap().returncode, 0)
        self.assertEqual(d.status()["state"], "valid")


class RotatedInAMalformedReply(E2ETestCase):
    def test_the_new_refresh_token_is_kept_and_persisted(self):
        d = self.bootstrapped_daemon(refresh=BACKOFF)
        self.fake.faults([{"kind": "malformed_with_refresh", "count": 1}])
        d.post("/v1/token/refresh")
        with open(d.state) as f:
            self.assertEqual(json.load(f)["refresh_token"], self.fake.refresh_token())
        self.assertEqual(d.wait_generation(2, seconds=20)["generation"], 2)
        self.assertEqual(self.fake.stats()["reuse_attempts"], 0)


if __name__ == "__main__":
    unittest.main()
