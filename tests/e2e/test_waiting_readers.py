"""min_ttl, long poll and forced refresh: readers that wait share one refresh."""

import threading
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import E2ETestCase


class WaitingReaders(E2ETestCase):
    fake_expires_in = 30

    def test_min_ttl_refreshes_when_the_held_token_is_too_short(self):
        d = self.bootstrapped_daemon()
        self.assertEqual(d.token("/v1/token?min_ttl=10")["generation"], 1)
        self.fake.set_expires_in(60)
        refreshed = d.token("/v1/token?min_ttl=45")
        self.assertEqual(refreshed["generation"], 2)
        self.assertGreaterEqual(refreshed["expires_in"], 45)

    def test_min_ttl_longer_than_any_token_refreshes_once_then_is_refused(self):
        d = self.bootstrapped_daemon()
        before = self.fake.stats()["refresh_grants"]
        for _ in range(3):
            status, headers, body = d.get("/v1/token?min_ttl=3600")
            self.assertEqual(status, 503)
            self.assertEqual(body["error"], "token_unavailable")
            self.assertIn("less than the asked min_ttl", body["error_description"])
            self.assertIn("retry-after", headers)
        # One refresh to learn the new lifetime; within 10 s of it, no more.
        self.assertEqual(self.fake.stats()["refresh_grants"] - before, 1)

    def test_many_min_ttl_callers_share_one_refresh(self):
        d = self.bootstrapped_daemon()
        before = self.fake.stats()["refresh_grants"]
        self.fake.set_expires_in(60)
        self.fake.faults([{"kind": "delay", "ms": 500}])
        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(lambda _: d.get("/v1/token?min_ttl=45"), range(20)))
        self.assertTrue(all(status == 200 for status, _, _ in answers), answers)
        self.assertEqual({body["generation"] for _, _, body in answers}, {2})
        self.assertEqual(self.fake.stats()["refresh_grants"] - before, 1)

    def test_long_poll_answers_with_the_next_generation(self):
        d = self.bootstrapped_daemon()
        result = {}

        def poll():
            result["answer"] = d.get("/v1/token?newer_than=1&wait=60", timeout=70)

        waiter = threading.Thread(target=poll)
        waiter.start()
        # Another client's forced refresh makes generation 2, which must wake the poller.
        self.assertEqual(d.post("/v1/token/refresh")[0], 200)
        waiter.join(30)
        self.assertFalse(waiter.is_alive())
        status, _, body = result["answer"]
        self.assertEqual(status, 200)
        self.assertEqual(body["generation"], 2)

    def test_long_poll_times_out_with_the_current_token(self):
        d = self.bootstrapped_daemon()
        status, _, body = d.get("/v1/token?newer_than=1&wait=1")
        self.assertEqual(status, 200)
        self.assertEqual(body["generation"], 1)

    def test_forced_refresh_from_many_callers_is_one_refresh(self):
        d = self.bootstrapped_daemon()
        # Restarted: no refresh in the last 10 s, so a forced refresh must happen.
        self.assertEqual(d.stop(), 0)
        d.start()
        before = self.fake.stats()["refresh_grants"]
        self.fake.faults([{"kind": "delay", "ms": 500}])
        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(pool.map(lambda _: d.post("/v1/token/refresh"), range(30)))
        self.assertTrue(all(status == 200 for status, _, _ in answers), answers)
        self.assertEqual({body["generation"] for _, _, body in answers}, {2})
        self.assertEqual(self.fake.stats()["refresh_grants"] - before, 1)
        # Within 10 s of that refresh, another forced refresh reuses it.
        status, _, body = d.post("/v1/token/refresh")
        self.assertEqual((status, body["generation"]), (200, 2))
        self.assertEqual(self.fake.stats()["refresh_grants"] - before, 1)


if __name__ == "__main__":
    unittest.main()
