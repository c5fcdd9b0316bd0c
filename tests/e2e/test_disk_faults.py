"""The state directory full, read-only or over a file-size limit during a refresh: the daemon
serves the new token from memory, says so in status and metrics, retries the write, and the old
state file stays intact until a complete new one replaces it."""

import json
import os
import subprocess
import unittest

from harness import E2ETestCase, request

BACKOFF = {"min_backoff": "100ms", "max_backoff": "500ms"}


def metric(d, name):
    data = request(d.socket, "GET", "/metrics")[2].decode()
    for line in data.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(name + " missing")


class DiskFaultCase(E2ETestCase):
    def check_write_failure_then_recovery(self, d, break_disk, heal_disk, reason):
        with open(d.state) as f:
            before = f.read()
        break_disk()
        status, _, token = d.post("/v1/token/refresh")
        # The new token is served from memory although it could not be written.
        self.assertEqual((status, token["generation"]), (200, 2))
        self.assertEqual(d.token()["access_token"], token["access_token"])
        st = d.wait_status(lambda s: not s["state_file"]["persisted"], seconds=10)
        self.assertIn(reason, st["state_file"]["error"])
        self.assertEqual(metric(d, "priava_tokend_state_file_persisted"), 0)
        self.assertGreaterEqual(metric(d, 'priava_tokend_state_file_writes_total{result="failure"}'), 1)
        # Retried, and still failing: the previous file is untouched and complete.
        d.wait_status(lambda s: metric(d, 'priava_tokend_state_file_writes_total{result="failure"}') >= 2,
                      seconds=10)
        with open(d.state) as f:
            self.assertEqual(f.read(), before)
        self.assertEqual([n for n in os.listdir(os.path.dirname(d.state)) if ".tmp-" in n], [])
        heal_disk()
        d.wait_status(lambda s: s["state_file"]["persisted"], seconds=15)
        with open(d.state) as f:
            state = json.load(f)
        self.assertEqual(state["generation"], 2)
        self.assertEqual(state["refresh_token"], self.fake.refresh_token())
        self.assertEqual(metric(d, "priava_tokend_state_file_persisted"), 1)


def processes_of(d):
    """The daemon and its token request processes, which write the state file too."""
    pids = [d.proc.pid]
    for task in os.listdir("/proc/%d/task" % d.proc.pid):
        with open("/proc/%d/task/%s/children" % (d.proc.pid, task)) as f:
            pids += [int(p) for p in f.read().split()]
    return pids


class FileSizeLimit(DiskFaultCase):
    def test_efbig(self):
        d = self.bootstrapped_daemon(refresh=BACKOFF)

        def limit(size):
            # As LimitFSIZE= would: for every process of the daemon.
            for pid in processes_of(d):
                subprocess.run(["prlimit", "--pid", str(pid), "--fsize=%s:" % size], check=True)

        self.check_write_failure_then_recovery(
            d, lambda: limit("100"), lambda: limit("unlimited"), "File too large")


@unittest.skipUnless(os.geteuid() == 0, "mounting needs root")
class MountedStateDirectory(DiskFaultCase):
    def setUp(self):
        super().setUp()
        self.mount = os.path.join(self.dir, "state")
        os.mkdir(self.mount, 0o700)
        self.mounts = []

    def mount_over(self, *args):
        if subprocess.run(["mount", *args, self.mount]).returncode != 0:
            self.skipTest("cannot mount here")
        self.mounts.append(self.mount)

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m])
        super().tearDown()

    def test_disk_full(self):
        self.mount_over("-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs")
        d = self.bootstrapped_daemon(refresh=BACKOFF,
                                     state_path=os.path.join(self.mount, "state.json"))
        filler = os.path.join(self.mount, "filler")

        def fill():
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(fd, b"\0" * 4096) > 0:
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)

        self.check_write_failure_then_recovery(d, fill, lambda: os.unlink(filler),
                                               "No space left on device")

    def test_read_only(self):
        d = self.bootstrapped_daemon(refresh=BACKOFF,
                                     state_path=os.path.join(self.mount, "state.json"))

        def make_read_only():
            # A read-only bind mount over the directory: the daemon's open lock file keeps
            # working, every new file (the temporary state file) gets EROFS.
            self.mount_over("--bind", self.mount)
            subprocess.run(["mount", "-o", "remount,ro,bind", self.mount], check=True)

        def make_writable():
            subprocess.run(["umount", self.mount], check=True)
            self.mounts.pop()

        self.check_write_failure_then_recovery(d, make_read_only, make_writable,
                                               "Read-only file system")


if __name__ == "__main__":
    unittest.main()
