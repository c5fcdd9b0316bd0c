"""Every endpoint of the socket API through real clients: curl, Python http.client, raw bytes."""

import json
import os
import socket
import stat
import subprocess
import time
import unittest

from harness import CLIENT_SECRET, E2ETestCase, request

CONTRACT_METRICS = [
    "priava_tokend_token_expiry_timestamp_seconds",
    "priava_tokend_token_generation",
    'priava_tokend_refresh_total{result="success"}',
    'priava_tokend_refresh_total{result="transient_error"}',
    'priava_tokend_refresh_total{result="rejected"}',
    "priava_tokend_refresh_duration_seconds_bucket",
    "priava_tokend_refresh_duration_seconds_sum",
    "priava_tokend_refresh_duration_seconds_count",
    "priava_tokend_last_refresh_success_timestamp_seconds",
    'priava_tokend_state{state="valid"} 1',
    "priava_tokend_requests_total{",
    "priava_tokend_build_info{version=",
]


def curl(sock, *args):
    result = subprocess.run(["curl", "-sS", "--unix-socket", sock, "-D", "-", *args],
                            capture_output=True, timeout=30)
    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    headers = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def raw_exchange(sock_path, data, read_timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(read_timeout)
    s.connect(sock_path)
    s.sendall(data)
    chunks = []
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout:
        pass
    s.close()
    return b"".join(chunks)


class SocketApi(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.d = self.bootstrapped_daemon(listen={"mode": "0660"})

    def test_token_with_curl(self):
        status, headers, body = curl(self.d.socket, "http://localhost/v1/token")
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertEqual(headers["content-type"], "application/json")
        token = json.loads(body)
        self.assertEqual(set(token), {"access_token", "token_type", "expires_in", "expires_at",
                                      "region", "generation"})
        self.assertEqual(token["token_type"], "Bearer")
        self.assertEqual(token["region"], "APAC")
        self.assertGreater(token["expires_in"], 3500)
        self.assertTrue(token["expires_at"].endswith("Z"))

    def test_the_token_works_at_priava(self):
        token = self.d.token()["access_token"]
        import ssl
        import http.client
        ctx = ssl.create_default_context(cafile=self.fake.ca_file)
        host, port = self.fake.token_url.split("//")[1].split("/")[0].split(":")
        conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
        conn.request("GET", "/api/rest/ping", headers={"Authorization": "Bearer " + token,
                                                       "TenantRegion": "APAC"})
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_status_livez_healthz_readyz_with_curl(self):
        for path in ("/livez", "/healthz", "/readyz"):
            status, headers, _ = curl(self.d.socket, "http://localhost" + path)
            self.assertEqual(status, 200, path)
            self.assertEqual(headers["cache-control"], "no-store", path)
        status, _, body = curl(self.d.socket, "http://localhost/v1/status")
        self.assertEqual(status, 200)
        st = json.loads(body)
        for key in ("state", "expires_at", "next_refresh_at", "last_refresh_at", "last_error",
                    "consecutive_failures", "generation", "version"):
            self.assertIn(key, st)
        self.assertEqual(st["state"], "valid")
        self.assertNotIn("access_token", body)

    def test_metrics_carry_the_contract_names(self):
        self.d.token()
        status, headers, body = curl(self.d.socket, "http://localhost/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        for name in CONTRACT_METRICS:
            self.assertIn(name, body)
        self.assertIn('priava_tokend_requests_total{path="/v1/token",code="200"}', body)

    def test_unknown_paths_methods_and_queries(self):
        status, _, body = request(self.d.socket, "GET", "/v2/token")
        self.assertEqual(status, 404)
        status, headers, _ = request(self.d.socket, "DELETE", "/v1/token")
        self.assertEqual((status, headers["allow"]), (405, "GET"))
        status, headers, _ = request(self.d.socket, "GET", "/v1/token/refresh")
        self.assertEqual((status, headers["allow"]), (405, "POST"))
        status, _, body = request(self.d.socket, "GET", "/v1/token?min-ttl=5")
        self.assertEqual(status, 400)
        self.assertIn(b"min-ttl", body)
        status, headers, _ = request(self.d.socket, "GET", "/nope")
        self.assertEqual(headers["cache-control"], "no-store")

    def test_limits_on_heads_and_bodies(self):
        status, _, _ = request(self.d.socket, "GET", "/v1/token",
                               headers={"X-Padding": "a" * 9000})
        self.assertEqual(status, 431)
        status, _, _ = request(self.d.socket, "POST", "/v1/token/refresh", body=b"x" * 2000)
        self.assertEqual(status, 413)
        reply = raw_exchange(self.d.socket, b"\x16\x03\x01garbage\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply[:60])
        # The daemon is unharmed.
        self.assertEqual(self.d.token()["generation"], 1)

    def test_keep_alive_and_pipelining(self):
        reply = raw_exchange(self.d.socket,
                             b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                             b"GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\n"
                             b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(reply.count(b"HTTP/1.1 200 OK"), 3)
        self.assertIn(b"Connection: close", reply)

    def test_http_1_0_is_answered_and_closed(self):
        reply = raw_exchange(self.d.socket, b"GET /v1/token HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK"))
        self.assertIn(b"Connection: close", reply)

    def test_a_client_that_never_finishes_its_head_is_closed(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.d.socket)
        s.sendall(b"GET /v1/token HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(20)
        started = time.monotonic()
        self.assertEqual(s.recv(100), b"")  # closed by the daemon, not answered
        self.assertGreater(time.monotonic() - started, 8)
        s.close()
        self.assertEqual(self.d.token()["generation"], 1)

    def test_socket_file_has_the_configured_mode(self):
        mode = stat.S_IMODE(os.stat(self.d.socket).st_mode)
        self.assertEqual(mode, 0o660)
        self.assertTrue(stat.S_ISSOCK(os.stat(self.d.socket).st_mode))

    def test_bootstrap_endpoint_validates_its_body(self):
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = self.d.post("/v1/bootstrap", b"code=a/b", form)
        self.assertEqual(status, 400)
        status, _, body = self.d.post("/v1/bootstrap", b'{"code":"x"}',
                                      {"Content-Type": "application/json"})
        self.assertEqual(status, 415)
        status, _, body = self.d.post("/v1/bootstrap", b"code=abc", form)
        self.assertEqual(status, 409)  # a working credential is held; no force
        self.assertIn("--force", body["error_description"])

    def test_no_secret_in_any_answer(self):
        with open(self.d.state) as f:
            refresh_token = json.load(f)["refresh_token"]
        answers = []
        for path in ("/v1/token", "/v1/status", "/metrics", "/livez", "/readyz", "/nope"):
            answers.append(request(self.d.socket, "GET", path)[2].decode())
        answers.append(request(self.d.socket, "POST", "/v1/token/refresh")[2].decode())
        text = "\n".join(answers)
        self.assertNotIn(refresh_token, text)
        self.assertNotIn(CLIENT_SECRET, text)

    def test_client_commands(self):
        token = self.d.cli("token", "--socket", self.d.socket)
        self.assertEqual(token.returncode, 0, token.stderr)
        self.assertEqual(token.stdout.strip(), self.d.token()["access_token"])
        header = self.d.cli("token", "--format", "header", env={"PRIAVA_TOKEND_SOCKET": self.d.socket})
        self.assertTrue(header.stdout.startswith("Authorization: Bearer "))
        as_json = self.d.cli("token", "--socket", self.d.socket, "--format", "json")
        self.assertEqual(json.loads(as_json.stdout)["generation"], 1)
        status = self.d.cli("status", "--socket", self.d.socket)
        self.assertEqual(status.returncode, 0)
        self.assertIn("valid", status.stdout)
        status_json = self.d.cli("status", "--socket", self.d.socket, "--json")
        self.assertEqual(json.loads(status_json.stdout)["state"], "valid")
        self.assertEqual(self.d.cli("healthcheck", "--socket", self.d.socket).returncode, 0)
        missing = os.path.join(self.dir, "missing.sock")
        self.assertEqual(self.d.cli("token", "--socket", missing).returncode, 69)
        self.assertEqual(self.d.cli("healthcheck", "--socket", missing).returncode, 1)
        self.assertEqual(self.d.cli("status", "--socket", missing).returncode, 69)


class SocketFile(E2ETestCase):
    def test_stale_socket_is_replaced_and_a_live_one_refused(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(d.socket)  # bound, never listening: what a crash leaves behind
        stale.close()
        d.start()
        self.assertEqual(d.token()["generation"], 1)
        other = self.daemon(name="other", state_path=os.path.join(self.dir, "other.json"),
                            listen={"socket": d.socket})
        self.assertEqual(other.bootstrap().returncode, 0)
        other.start(wait_ready=False)
        self.assertEqual(other.proc.wait(20), 78)
        self.assertIn("another process is listening", other.logs())
        self.assertEqual(d.token()["generation"], 1)


if __name__ == "__main__":
    unittest.main()


class ConnectionCap(E2ETestCase):
    def connect(self, d, request=b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.sendall(request)
        return s

    def test_at_the_cap_the_longest_idle_connection_makes_room(self):
        d = self.bootstrapped_daemon(listen={"max_connections": 2})
        first, second = self.connect(d), self.connect(d)
        for s in (first, second):
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))  # now idle, kept alive
        third = self.connect(d)
        third.settimeout(10)
        self.assertTrue(third.recv(4096).startswith(b"HTTP/1.1 200"))
        first.settimeout(10)
        self.assertEqual(first.recv(4096), b"")  # the longest idle one was closed for it
        second.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        second.settimeout(10)
        self.assertTrue(second.recv(4096).startswith(b"HTTP/1.1 200"))
        metrics = request(d.socket, "GET", "/metrics")[2].decode()
        self.assertIn('priava_tokend_connections_closed_total{reason="evicted"} 2', metrics)
        for s in (first, second, third):
            s.close()

    def test_when_every_connection_is_busy_new_clients_wait_in_the_backlog(self):
        d = self.bootstrapped_daemon(listen={"max_connections": 2})
        # Both slots busy with forced refreshes that Priava answers after 2 s (long polls would
        # not do: they may hold only half the slots).
        self.fake.faults([{"kind": "delay", "ms": 2000}])
        poll = b"POST /v1/token/refresh HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        pollers = [self.connect(d, poll), self.connect(d, poll)]
        waiting = self.connect(d, b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        waiting.settimeout(1)
        with self.assertRaises(socket.timeout):
            waiting.recv(4096)  # both slots busy: not refused, not answered yet
        waiting.settimeout(10)
        self.assertTrue(waiting.recv(4096).startswith(b"HTTP/1.1 200"))
        for s in pollers:
            s.settimeout(10)
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
            s.close()
        waiting.close()
