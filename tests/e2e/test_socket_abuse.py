"""Abuse of the socket: thousands of connections, slow-loris heads, oversized heads, garbage,
half-closed sockets, a client that never reads. Well-behaved clients stay served (latency
measured during the abuse), memory stays bounded, no descriptor leaks."""

import os
import random
import resource
import socket
import statistics
import threading
import time
import unittest

from harness import E2ETestCase, request

GOOD_REQUEST = b"GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\n"


def descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_client(path, blocking=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(blocking)
    try:
        s.connect(path)
    except (BlockingIOError, InterruptedError):
        pass
    return s


def wait_for(predicate, seconds, what):
    """Polls an outside observable (/proc) that no event reports, until it holds."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("never happened: " + what)
        time.sleep(0.05)


class SocketAbuse(E2ETestCase):
    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def test_abuse_leaves_well_behaved_clients_served_and_nothing_leaks(self):
        d = self.bootstrapped_daemon()
        pid = d.proc.pid
        d.token()
        base_fds = descriptors(pid)
        base_rss = rss_kib(pid)
        peak_rss = [base_rss]
        stop = threading.Event()
        abusers = []

        # 3000 connections that never say anything (the cap is 1024).
        for _ in range(3000):
            abusers.append(open_client(d.socket, blocking=False))
        # Oversized heads, garbage and half-closed requests.
        answers = {"431": 0, "400": 0, "half-closed": 0}
        polite = []
        for _ in range(50):
            s = open_client(d.socket)
            s.sendall(b"GET /v1/token HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            polite.append(("431", s))
            s = open_client(d.socket)
            s.sendall(bytes(random.getrandbits(8) for _ in range(512)) + b"\r\n\r\n")
            polite.append(("400", s))
            s = open_client(d.socket)
            s.sendall(GOOD_REQUEST)
            s.shutdown(socket.SHUT_WR)
            polite.append(("half-closed", s))

        # Slow loris: a head that never ends, one byte a second.
        lorises = [open_client(d.socket) for _ in range(200)]
        for s in lorises:
            s.sendall(b"GET /v1/token HTTP/1.1\r\nX-Slow: ")

        def drip():
            while not stop.wait(1.0):
                for s in lorises:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass

        # Clients that pipeline requests and never read the answers.
        hogs = [open_client(d.socket) for _ in range(5)]

        def hog(s):
            s.settimeout(30)
            try:
                s.sendall(GOOD_REQUEST * 50000)
            except OSError:
                pass

        def watch_memory():
            while not stop.wait(0.2):
                peak_rss[0] = max(peak_rss[0], rss_kib(pid))

        threads = [threading.Thread(target=drip), threading.Thread(target=watch_memory)]
        threads += [threading.Thread(target=hog, args=(s,)) for s in hogs]
        for t in threads:
            t.start()

        # Meanwhile, well-behaved clients: each a new connection, as most apps would.
        latencies = []
        failures = []
        for _ in range(300):
            started = time.monotonic()
            try:
                status, _, _ = request(d.socket, "GET", "/v1/token", timeout=10)
                if status != 200:
                    failures.append(status)
            except OSError as e:
                failures.append(repr(e))
            latencies.append(time.monotonic() - started)

        for kind, s in polite:
            s.settimeout(10)
            try:
                reply = s.recv(4096)
            except OSError:
                reply = b""
            if kind == "half-closed" and reply.startswith(b"HTTP/1.1 200"):
                answers[kind] += 1
            elif reply.startswith(b"HTTP/1.1 " + kind.encode()):
                answers[kind] += 1

        # The lorises are cut off after the 10 s head deadline.
        cut = 0
        for s in lorises:
            s.settimeout(15)
            try:
                if s.recv(4096) == b"":
                    cut += 1
            except ConnectionResetError:
                cut += 1
        stop.set()
        for s in abusers + lorises + hogs + [s for _, s in polite]:
            s.close()
        for t in threads:
            t.join(40)

        p50 = statistics.median(latencies)
        p99 = sorted(latencies)[int(len(latencies) * 0.99) - 1]
        print("\nwell-behaved latency during abuse: p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
              "RSS %d KiB -> peak %d KiB" % (p50 * 1e3, p99 * 1e3, max(latencies) * 1e3,
                                            base_rss, peak_rss[0]))
        self.assertEqual(failures, [])
        self.assertLess(p99, 1.0)
        self.assertEqual(answers, {"431": 50, "400": 50, "half-closed": 50})
        self.assertEqual(cut, 200)
        self.assertLess(peak_rss[0] - base_rss, 64 * 1024)
        wait_for(lambda: descriptors(pid) <= base_fds, 30,
                 "descriptors back to %d (now %d)" % (base_fds, descriptors(pid)))
        metrics = request(d.socket, "GET", "/metrics")[2].decode()
        self.assertIn("priava_tokend_connections 1\n", metrics)  # this request's own
        self.assertEqual(d.token()["generation"], 1)
        self.assertIsNone(d.proc.poll())


if __name__ == "__main__":
    unittest.main()
