"""The daemon's main process killed while Priava's answer is on its way loses no refresh token:
the token request process, which holds the state lock, writes what Priava answered itself, and a
daemon started again at once waits for the lock and reads it (docs/state-file.md#who-writes-it).

The fake's `delay_after` fault widens the window that a crash hits about once in a hundred kills
(tests/reliability/crash_durability.py): Priava rotates the refresh token at once and answers
only later.
"""

import json
import os
import signal
import threading
import time
import unittest

from harness import E2ETestCase

WINDOW_MS = 1500


def wait_for(predicate, seconds, what):
    """Polls `predicate` until it is true; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (seconds, what))
        time.sleep(0.02)  # polling interval, not a synchronisation


def children(pid):
    """The processes `pid` started and that still run: its token request processes."""
    found = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            found += [int(p) for p in f.read().split()]
    return found


class DaemonKilledInTheWindow(E2ETestCase):
    def refresh_in_the_window(self, d):
        """Starts a refresh that Priava has processed (the refresh token it replaces is consumed)
        but answers only WINDOW_MS later; returns once the rotation happened."""
        before = self.fake.stats()["refresh_grants"]
        self.fake.faults([{"kind": "delay_after", "ms": WINDOW_MS}])
        answers = []

        def refresh():
            try:
                answers.append(d.post("/v1/token/refresh"))
            except OSError as e:  # the daemon was killed under it
                answers.append(e)

        threading.Thread(target=refresh, daemon=True).start()
        wait_for(lambda: self.fake.stats()["refresh_grants"] > before, 10, "Priava's rotation")
        return answers

    def assert_chain_intact(self, d, generation, refresh=True):
        """The state file holds Priava's newest refresh token, and (`refresh`) it still works;
        a daemon that refreshed in the last 10 s would only hand out that refresh's token."""
        with open(d.state) as f:
            state = json.load(f)
        self.assertTrue(state["refresh_token"] == self.fake.refresh_token(),
                        "the state file lacks the refresh token Priava rotated to")
        self.assertEqual(state["generation"], generation)
        self.assertEqual(d.token()["generation"], generation)
        if refresh:
            status, _, token = d.post("/v1/token/refresh")
            self.assertEqual((status, token["generation"]), (200, generation + 1))
        self.assertEqual(self.fake.stats()["reuse_attempts"], 0)

    def test_sigkill_of_the_main_process_after_the_rotation_loses_nothing(self):
        d = self.bootstrapped_daemon(refresh={"request_timeout": "10s"})
        self.refresh_in_the_window(d)
        d.proc.send_signal(signal.SIGKILL)
        d.stop()
        # Started again at once: the token request process still holds the lock and waits for
        # Priava's answer; the new daemon waits for it, then reads what it wrote.
        d.start()
        self.assert_chain_intact(d, 2)
        self.assertIn("still held the lock; waited", d.logs())

    def test_sigterm_to_every_process_of_the_daemon_lets_the_refresh_finish(self):
        # What systemd's stop does (KillMode=control-group): SIGTERM to the daemon and to its
        # token request processes alike.
        d = self.bootstrapped_daemon(refresh={"request_timeout": "10s"})
        answers = self.refresh_in_the_window(d)
        for pid in children(d.proc.pid) + [d.proc.pid]:
            os.kill(pid, signal.SIGTERM)
        self.assertEqual(d.stop(), 0, d.logs())
        self.assertEqual(answers[0][0], 200)
        self.assertEqual(answers[0][2]["generation"], 2)
        d.start()
        self.assert_chain_intact(d, 2)

    def test_a_second_daemon_is_refused_at_once_while_the_first_refreshes(self):
        first = self.bootstrapped_daemon(refresh={"request_timeout": "10s"})
        answers = self.refresh_in_the_window(first)
        second = self.daemon(name="second")
        second.start(wait_ready=False)
        self.assertEqual(second.proc.wait(20), 1)
        self.assertIn("pid %d" % first.proc.pid, second.logs())
        wait_for(lambda: answers, 20, "the first daemon's refresh")
        self.assertEqual(answers[0][0], 200)
        self.assert_chain_intact(first, 2, refresh=False)


if __name__ == "__main__":
    unittest.main()
