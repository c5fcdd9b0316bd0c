"""The daemon keeps a short-lived token fresh: rotation, restarts, the state lock."""

import json
import os
import signal
import threading
import time
import unittest
from datetime import datetime, timezone

from harness import E2ETestCase, request


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


class RefreshCycle(E2ETestCase):
    fake_expires_in = 4

    def test_refreshes_repeatedly_with_rotation_and_no_reuse(self):
        d = self.bootstrapped_daemon()
        first = d.token()
        self.assertEqual(first["generation"], 1)
        latest = d.wait_generation(5, seconds=40)
        self.assertGreaterEqual(latest["generation"], 5)
        stats = self.fake.stats()
        self.assertEqual(stats["reuse_attempts"], 0)
        self.assertEqual(stats["code_rejections"], 0)
        self.assertGreaterEqual(stats["refresh_grants"], 4)
        # The refresh token on disk is the one Priava considers current.
        with open(d.state) as f:
            self.assertEqual(json.load(f)["refresh_token"], self.fake.refresh_token())
        self.assertEqual(os.stat(d.state).st_mode & 0o777, 0o600)

    def test_no_reader_ever_gets_a_token_within_the_serve_margin(self):
        d = self.bootstrapped_daemon()
        served = []
        problems = []
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                status, _, body = request(d.socket, "GET", "/v1/token")
                now = time.time()
                if status == 200:
                    payload = json.loads(body)
                    served.append(payload["access_token"])
                    left = parse_time(payload["expires_at"]) - now
                    # serve_margin is 1 s; expires_at is rounded down to the second.
                    if payload["expires_in"] < 1 or left < 0:
                        problems.append(payload["expires_in"])
                else:
                    problems.append(status)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        d.wait_generation(4, seconds=40)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(problems, [])
        self.assertGreater(len(served), 100)
        self.assertGreaterEqual(len(set(served)), 4)

    def test_restart_with_a_valid_state_file_serves_without_a_refresh(self):
        self.fake.set_expires_in(3600)
        d = self.bootstrapped_daemon()
        before = d.token()
        self.assertEqual(d.stop(), 0)
        requests_before = self.fake.stats()["requests"]
        d.start()
        after = d.token()
        self.assertEqual(after["access_token"], before["access_token"])
        self.assertEqual(after["generation"], before["generation"])
        self.assertEqual(self.fake.stats()["requests"], requests_before)

    def test_a_second_daemon_on_the_same_state_file_refuses(self):
        first = self.bootstrapped_daemon()
        second = self.daemon(name="second")
        second.start(wait_ready=False)
        code = second.proc.wait(20)
        self.assertEqual(code, 1)
        self.assertIn("pid %d" % first.proc.pid, second.logs())
        self.assertEqual(first.token()["generation"], 1)

    def test_sigterm_drains_and_removes_the_socket(self):
        d = self.bootstrapped_daemon()
        d.token()
        messages = []
        d.proc.send_signal(signal.SIGTERM)
        messages = d.wait_notify("STOPPING=1", 10)
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(d.socket))
        self.assertTrue(messages)


class StartWithCodeFile(E2ETestCase):
    def test_code_file_is_exchanged_when_no_state_exists(self):
        code_file = os.path.join(self.dir, "code")
        with open(code_file, "w") as f:
            f.write(self.fake.code() + "\n")
        d = self.daemon(bootstrap={"code_file": code_file}).start()
        self.assertEqual(d.token()["generation"], 1)
        self.assertEqual(self.fake.stats()["authorization_code_grants"], 1)
        # A restart does not spend the code again.
        self.assertEqual(d.stop(), 0)
        d.start()
        self.assertEqual(self.fake.stats()["authorization_code_grants"], 1)
        self.assertEqual(self.fake.stats()["code_rejections"], 0)

    def test_a_reader_before_the_first_token_waits_for_it(self):
        code_file = os.path.join(self.dir, "code")
        with open(code_file, "w") as f:
            f.write(self.fake.code() + "\n")
        self.fake.faults([{"kind": "delay", "ms": 1000}])
        d = self.daemon(bootstrap={"code_file": code_file}).start(wait_ready=False)
        d.wait_notify(lambda line: line.startswith("STATUS="), 10)  # up, no token yet
        self.assertEqual(d.get("/readyz")[0], 503)  # readiness never waits
        status, _, body = d.get("/v1/token")  # but a reader does
        self.assertEqual((status, body["generation"]), (200, 1))

    def test_without_state_or_code_file_the_daemon_explains_and_exits_78(self):
        d = self.daemon()
        d.start(wait_ready=False)
        self.assertEqual(d.proc.wait(20), 78)
        self.assertIn("priava-tokend bootstrap", d.logs())


if __name__ == "__main__":
    unittest.main()
