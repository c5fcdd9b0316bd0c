"""The daemon's long-lived coroutines fail loudly: a dead accept loop stops the watchdog pings,
and the daemon exits 1 (for systemd's Restart=on-failure) after letting the refresh in flight
finish and be written.

The fault comes from the test builds' hook PRIAVA_TOKEND_TEST_FAIL_ACCEPT_AFTER=N: after N
connections the accept loop fails as it would on a broken listening socket (EINVAL). A socket
cannot be broken from outside: shut down for reading, a listening Unix socket only answers
EAGAIN to a non-blocking accept.
"""

import json
import socket
import threading
import time
import unittest

from test_systemd import SupervisedDaemon, SystemdTestCase


class WatchedDaemon(SupervisedDaemon):
    def wait_refreshing(self, seconds):
        """Waits for a STATUS= line saying a token request is in flight."""
        deadline = time.monotonic() + seconds
        with self.notes_changed:
            while not any(m.startswith("STATUS=refreshing") for _, m in self.notes):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("no STATUS=refreshing; got %r" % self.notes)
                self.notes_changed.wait(left)


class AcceptLoopFailure(SystemdTestCase):
    def test_a_dead_accept_loop_stops_the_watchdog_and_the_daemon_exits_1_losing_nothing(self):
        d = WatchedDaemon(self.dir, self.fake, refresh={"request_timeout": "10s"})
        self.daemons.append(d)
        self.assertEqual(d.bootstrap().returncode, 0)
        # The first connection (the forced refresh below) is served; the second kills the loop.
        d.start(env={"WATCHDOG_USEC": "400000", "PRIAVA_TOKEND_TEST_FAIL_ACCEPT_AFTER": "1"})
        self.assertGreaterEqual(len(d.watchdog_times(0.5)), 2, "no pings while healthy")

        # A refresh that takes two seconds is in flight when the accept loop dies.
        self.fake.faults([{"kind": "delay", "ms": 2000}])
        answers = []
        client = threading.Thread(target=lambda: answers.append(d.post("/v1/token/refresh")))
        client.start()
        d.wait_refreshing(10)
        since = d.mark()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as second:
            second.connect(d.socket)  # accepted, and the accept loop fails

        stopping = since + len(d.wait_notify("STOPPING=1", 10, since)) - 1
        stopped_at = time.monotonic()
        code = d.proc.wait(30)
        lived = time.monotonic() - stopped_at
        client.join(30)

        self.assertEqual(code, 1, d.logs())
        self.assertIn("the accept loop ended unexpectedly", d.logs())
        self.assertGreater(lived, 1.0, "the daemon did not wait for the refresh in flight")
        after = d.notes[stopping + 1:]
        self.assertEqual([m for _, m in after if "WATCHDOG=1" in m.split("\n")], [],
                         "watchdog pings after the accept loop died")
        # Nothing was lost: the refresh finished, was written, and its caller got the token.
        with open(d.state) as f:
            self.assertEqual(json.load(f)["generation"], 2)
        self.assertEqual(answers[0][0], 200)
        self.assertEqual(answers[0][2]["generation"], 2)
        self.assertEqual(self.fake.stats()["reuse_attempts"], 0)


if __name__ == "__main__":
    unittest.main()
