"""Priava misbehaving or saying no: backoff, reauth_required, recovery, shutdown mid-refresh."""

import json
import signal
import threading
import unittest

from harness import E2ETestCase


class PriavaOutage(E2ETestCase):
    fake_expires_in = 60

    def test_outage_retries_with_backoff_serves_the_old_token_and_recovers(self):
        d = self.bootstrapped_daemon(refresh={"min_backoff": "200ms", "max_backoff": "800ms"})
        held = d.token()
        self.fake.faults([{"kind": "status", "status": 503, "count": 0}])
        self.assertEqual(d.post("/v1/token/refresh")[0], 503)  # forced refresh meets the outage
        status = d.wait_status(lambda s: s["consecutive_failures"] >= 4, seconds=20)
        self.assertEqual(status["state"] in ("retrying", "refreshing"), True, status)
        self.assertEqual(status["last_error"]["error"], "server_error")
        # The held token is still served, unchanged.
        self.assertEqual(d.token()["access_token"], held["access_token"])
        # Backoff: 4+ failures took at least 200+200+400+... ms; the fake saw no storm.
        self.assertLess(self.fake.stats()["requests"], 15)
        self.fake.clear_faults()
        recovered = d.wait_generation(2, seconds=20)
        self.assertNotEqual(recovered["access_token"], held["access_token"])
        self.assertEqual(d.status()["state"], "valid")
        self.assertEqual(self.fake.stats()["reuse_attempts"], 0)

    def test_rate_limit_waits_for_priavas_retry_after(self):
        d = self.bootstrapped_daemon(refresh={"min_backoff": "100ms", "max_backoff": "200ms"})
        self.fake.faults([{"kind": "rate_limit", "retry_after": 3, "count": 1}])
        self.assertEqual(d.post("/v1/token/refresh")[0], 503)
        status = d.status()
        self.assertEqual(status["last_error"]["error"], "rate_limited")
        requests = self.fake.stats()["requests"]
        # A backoff of 100-200 ms alone would retry within a second; retry-after holds it ~3 s.
        self.assertEqual(d.get("/v1/token?newer_than=1&wait=1")[2]["generation"], 1)
        self.assertEqual(self.fake.stats()["requests"], requests)
        self.assertEqual(d.wait_generation(2, seconds=15)["generation"], 2)


class PriavaRejection(E2ETestCase):
    fake_expires_in = 6

    def test_invalid_grant_stops_refreshing_until_a_new_bootstrap(self):
        d = self.bootstrapped_daemon(refresh={"serve_margin": "2s"})
        self.fake.revoke()
        status, _, body = d.post("/v1/token/refresh")
        self.assertEqual(status, 503)
        self.assertEqual(body["error"], "reauth_required")
        st = d.status()
        self.assertEqual(st["state"], "reauth_required")
        self.assertEqual(st["last_error"]["error"], "invalid_grant")
        requests = self.fake.stats()["requests"]
        # The held token is served until it is spent, then readyz and token answer 503.
        d.wait_status(lambda s: s["expires_in"] is not None and s["expires_in"] <= 2, seconds=15)
        ready_status, _, _ = d.get("/readyz")
        self.assertEqual(ready_status, 503)
        status, headers, body = d.get("/v1/token")
        self.assertEqual((status, body["error"]), (503, "reauth_required"))
        self.assertIn("retry-after", headers)
        # No retry storm: nothing more was sent to Priava.
        self.assertEqual(self.fake.stats()["requests"], requests)
        self.assertIn("invalid_grant", d.logs())
        # An operator bootstraps with a new code; the running daemon takes it.
        result = d.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("running daemon", result.stdout)
        self.assertEqual(d.get("/readyz")[0], 200)
        self.assertEqual(d.status()["state"], "valid")
        self.assertEqual(d.token()["generation"], 2)


class ShutdownDuringRefresh(E2ETestCase):
    def test_sigterm_during_a_refresh_leaves_a_consistent_state_file(self):
        d = self.bootstrapped_daemon()
        self.fake.faults([{"kind": "delay", "ms": 1500}])
        answer = {}
        caller = threading.Thread(target=lambda: answer.update(r=d.post("/v1/token/refresh")))
        caller.start()
        d.wait_status(lambda s: s["state"] == "refreshing", seconds=10)
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.stop(), 0)
        caller.join(10)
        with open(d.state) as f:
            state = json.load(f)
        self.assertEqual(state["refresh_token"], self.fake.refresh_token())
        self.assertEqual(state["generation"], 2)
        # And it is usable: a restart serves it and keeps refreshing.
        d.start()
        self.assertEqual(d.token()["generation"], 2)
        self.assertEqual(d.post("/v1/token/refresh")[0], 200)
        self.assertEqual(self.fake.stats()["reuse_attempts"], 0)


if __name__ == "__main__":
    unittest.main()
