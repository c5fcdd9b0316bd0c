"""End-to-end harness: the real priava-tokend binary against the fake-priava executable.

Nothing here sleeps to synchronise. Readiness comes from the daemon's own sd_notify READY=1 on a
NOTIFY_SOCKET the harness owns; progress is awaited with the daemon's long poll
(`/v1/token?newer_than=G&wait=S`) or by blocking reads with deadlines.
"""

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

DAEMON = os.environ.get("PRIAVA_TOKEND_BIN", "priava-tokend")
FAKE = os.environ.get("FAKE_PRIAVA_BIN", "fake-priava")
CLIENT_ID = "e2e-client"
CLIENT_SECRET = "e2e-secret+/=Xy9"
REDIRECT_URI = "https://my.app.com/oauth2callback"


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket: what a Python app would use to talk to the daemon."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


# Everything the daemon said to anyone during the current test, for the secret scan:
# (carries_access_token, text).
OBSERVED = []
TOKEN_TARGETS = ("/v1/token", "/v1/bootstrap")


def request(path, method, target, body=None, headers=None, timeout=30, record=True):
    """One request; returns (status, headers dict, body bytes). `record`: the answer is the
    daemon's and goes into the secret scan (the fake's control API is not)."""
    conn = UnixHTTPConnection(path, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if record:
            OBSERVED.append((target.startswith(TOKEN_TARGETS),
                             repr(hdrs) + data.decode("utf-8", "replace")))
        return resp.status, hdrs, data
    finally:
        conn.close()


def request_json(path, method, target, body=None, headers=None, timeout=30):
    status, hdrs, data = request(path, method, target, body, headers, timeout)
    return status, hdrs, json.loads(data) if data else None


class Fake:
    """The fake-priava executable: HTTPS on 127.0.0.1, control API on a Unix socket."""

    def __init__(self, workdir, expires_in=3600, plain_http=False, rate_limit=None):
        self.dir = os.path.join(workdir, "fake")
        os.makedirs(self.dir, exist_ok=True)
        self.secret_file = os.path.join(workdir, "client_secret")
        with open(self.secret_file, "w") as f:
            f.write(CLIENT_SECRET + "\n")
        os.chmod(self.secret_file, 0o600)
        args = [FAKE, "--dir", self.dir, "--expires-in", str(expires_in), "--client-id",
                CLIENT_ID, "--client-secret-file", self.secret_file, "--redirect-uri",
                REDIRECT_URI]
        if plain_http:
            args.append("--plain-http")
        if rate_limit is not None:  # else Priava's 450 per 5 minutes
            args += ["--rate-limit", str(rate_limit)]
        self.log_path = os.path.join(workdir, "fake.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = read_line_with_deadline(self.proc.stdout, 20)
        if "listening on" not in line:
            raise RuntimeError("fake-priava did not start: %r" % line)
        self.token_url = line.rsplit(" ", 1)[1].strip()
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.control_path = os.path.join(self.dir, "control.sock")

    def control(self, method, target, body=None):
        status, _, data = request(self.control_path, method, target, body, record=False)
        if status != 200:
            raise RuntimeError("fake control %s %s: %d %s" % (method, target, status, data))
        return data

    def code(self):
        return self.control("POST", "/code").decode().strip()

    def stats(self):
        return json.loads(self.control("GET", "/stats"))

    def faults(self, faults):
        self.control("POST", "/faults", json.dumps(faults))

    def clear_faults(self):
        self.control("DELETE", "/faults")

    def revoke(self):
        self.control("POST", "/revoke")

    def revoke_access(self):
        """Every access token issued so far is refused by the API (401)."""
        self.control("POST", "/revoke-access")

    def answer_api_429s(self, retry_afters):
        """The next API calls get 429 with these `retry-after` texts (None: no field)."""
        self.control("POST", "/api-429", json.dumps(retry_afters))

    def set_rate_limit(self, limit, window_ms):
        self.control("POST", "/rate-limit", "%d %d" % (limit, window_ms))

    def set_expires_in(self, seconds):
        self.control("POST", "/expires_in", str(seconds))

    def refresh_token(self):
        return self.control("GET", "/refresh_token").decode().strip()

    def certificate(self, name):
        """server, wrong-host, expired or untrusted: what new TLS connections are shown."""
        self.control("POST", "/certificate", name)

    def stop_listening(self):
        self.control("POST", "/stop-listening")

    def start_listening(self):
        self.control("POST", "/start-listening")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stdout.close()
        self.log.close()


def read_line_with_deadline(stream, seconds):
    ready, _, _ = select.select([stream], [], [], seconds)
    if not ready:
        raise RuntimeError("no line within %s s" % seconds)
    return stream.readline()


class Daemon:
    """One priava-tokend: its config, state and socket in a temporary directory."""

    def __init__(self, workdir, fake, name="daemon", **overrides):
        self.workdir = workdir
        self.fake = fake
        self.name = name
        self.socket = os.path.join(workdir, name + ".sock")
        self.state = overrides.pop("state_path", os.path.join(workdir, "state.json"))
        self.config = os.path.join(workdir, name + ".toml")
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None
        self.notify = None
        refresh = {"serve_margin": "1s", "min_backoff": "100ms", "max_backoff": "1s",
                   "request_timeout": "5s"}
        refresh.update(overrides.pop("refresh", {}))
        listen = {"socket": self.socket}
        listen.update(overrides.pop("listen", {}))
        priava = {"token_url": fake.token_url, "region": "APAC", "client_id": CLIENT_ID,
                  "client_secret_file": fake.secret_file, "redirect_uri": REDIRECT_URI,
                  "ca_file": fake.ca_file}
        priava.update(overrides.pop("priava", {}))
        sections = {"priava": priava, "refresh": refresh,
                    "state": {"path": self.state}, "listen": listen}
        sections.update(overrides)
        with open(self.config, "w") as f:
            for section, keys in sections.items():
                f.write("[%s]\n" % section)
                for key, value in keys.items():
                    f.write("%s = %s\n" % (key, toml_value(value)))

    # --- command line ---------------------------------------------------------------------------

    def cli(self, *args, input=None, env=None, timeout=60):
        full_env = dict(os.environ)
        full_env.update(env or {})
        result = subprocess.run([DAEMON, *args], input=input, capture_output=True, text=True,
                                timeout=timeout, env=full_env)
        OBSERVED.append((args[0] == "token", result.stdout))
        OBSERVED.append((False, result.stderr))
        return result

    def bootstrap(self, code=None, *extra):
        code = code if code is not None else self.fake.code()
        return self.cli("bootstrap", "--config", self.config, "--code", "-", *extra, input=code)

    # --- the daemon -----------------------------------------------------------------------------

    def start(self, wait_ready=True, env=None, own_group=False):
        """Starts the daemon; `own_group` makes it the leader of a process group of its own (with
        its token request processes), for a test that kills the whole group."""
        self.notify_path = os.path.join(self.workdir, self.name + ".notify")
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.messages = []  # every sd_notify datagram, in order
        self.messages_changed = threading.Condition()
        self.notify_reader = threading.Thread(target=self._read_notifications, daemon=True)
        self.notify_reader.start()
        full_env = dict(os.environ)
        full_env["NOTIFY_SOCKET"] = self.notify_path
        full_env.update(env or {})
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([DAEMON, "run", "--config", self.config], env=full_env,
                                     stdout=self.log, stderr=self.log,
                                     process_group=0 if own_group else None)
        threading.Thread(target=self._watch_exit, args=(self.proc,), daemon=True).start()
        if wait_ready:
            self.wait_notify("READY=1", 20)
        return self

    def _read_notifications(self):
        """Drains the notify socket as systemd would, so the daemon never sees a full queue."""
        while True:
            try:
                data = self.notify.recv(4096)
            except OSError:
                return
            if not data:
                return
            with self.messages_changed:
                self.messages.append(data.decode())
                self.messages_changed.notify_all()

    def mark(self):
        """A position in the notification stream; `wait_notify(..., since=mark)` looks after it."""
        with self.messages_changed:
            return len(self.messages)

    def wait_notify(self, wanted, seconds, since=0):
        """Waits for a notification (after `since`) holding the line `wanted` (or a line for
        which `wanted`, if callable, is true); returns all seen from `since` up to and including
        it."""
        deadline = time.monotonic() + seconds
        matches = wanted if callable(wanted) else (lambda line: line == wanted)
        with self.messages_changed:
            while True:
                for i in range(since, len(self.messages)):
                    if any(matches(line) for line in self.messages[i].split("\n")):
                        return self.messages[since:i + 1]
                if self.proc.poll() is not None:
                    raise AssertionError("daemon exited with %s before %s; log:\n%s"
                                         % (self.proc.returncode, wanted, self.logs()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s from the daemon within %s s; got %r; log:\n%s"
                                         % (wanted, seconds, self.messages[since:], self.logs()))
                self.messages_changed.wait(left)

    def _watch_exit(self, proc):
        """Wakes waiters when the daemon exits, so a crash fails a test at once."""
        proc.wait()
        with self.messages_changed:
            self.messages_changed.notify_all()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.log.close()
        self.notify.shutdown(socket.SHUT_RDWR)
        self.notify.close()
        self.notify_reader.join(5)
        self.proc = None
        return code

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    # --- the socket API -------------------------------------------------------------------------

    def get(self, target, timeout=30):
        return request_json(self.socket, "GET", target, timeout=timeout)

    def post(self, target, body=None, headers=None, timeout=30):
        return request_json(self.socket, "POST", target, body, headers, timeout)

    def token(self, target="/v1/token"):
        status, _, body = self.get(target)
        if status != 200:
            raise AssertionError("GET %s: %d %r" % (target, status, body))
        return body

    def status(self):
        return self.get("/v1/status")[2]

    def wait_generation(self, at_least, seconds=30):
        """Long-polls until a token of generation >= at_least is served."""
        deadline = time.monotonic() + seconds
        while True:
            left = int(deadline - time.monotonic())
            if left <= 0:
                raise AssertionError("generation %d not reached; status %r"
                                     % (at_least, self.status()))
            status, _, body = self.get("/v1/token?newer_than=%d&wait=%d"
                                       % (at_least - 1, min(left, 300)), timeout=left + 5)
            if status == 200 and body["generation"] >= at_least:
                return body

    def wait_status(self, predicate, seconds=30):
        """Waits for a status the predicate accepts, looking again at every change the daemon
        reports on its notify socket."""
        deadline = time.monotonic() + seconds
        while True:
            seen = self.mark()
            current = self.status()
            if predicate(current):
                return current
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("status never matched; last %r" % current)
            with self.messages_changed:
                if len(self.messages) == seen:
                    self.messages_changed.wait(left)


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


class E2ETestCase(unittest.TestCase):
    """A temporary directory and a fake per test; daemons started through `daemon` are stopped."""

    fake_expires_in = 3600

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="priava-tokend-e2e-")
        self.dir = self._tmp.name
        self.fake = Fake(self.dir, expires_in=self.fake_expires_in)
        self.daemons = []
        self.extra_secrets = []  # values a test wrote into secret files
        OBSERVED.clear()

    def tearDown(self):
        for d in self.daemons:
            try:
                d.stop(signal.SIGTERM if d.proc and d.proc.poll() is None else signal.SIGKILL)
            except Exception:
                pass
        try:
            self.assert_no_secret_leaked()
        finally:
            self.fake.stop()
            self._tmp.cleanup()

    def assert_no_secret_leaked(self):
        """No refresh token, code or client secret (nor any 8-character piece of one) in anything
        the daemon said: logs, socket answers, command output. Access tokens only where they
        belong: token answers."""
        issued = json.loads(self.fake.control("GET", "/issued"))
        logs = []
        for d in self.daemons:
            if os.path.exists(d.log_path):
                logs.append(d.logs())
        everywhere = [text for _, text in OBSERVED] + logs
        not_token_answers = [text for carries, text in OBSERVED if not carries] + logs
        checks = [(s, everywhere) for s in
                  issued["codes"] + issued["refresh_tokens"] + [CLIENT_SECRET] + self.extra_secrets]
        checks += [(s, not_token_answers) for s in issued["access_tokens"]]
        for secret, texts in checks:
            for piece in {secret[i:i + 8] for i in range(max(1, len(secret) - 7))}:
                for text in texts:
                    if piece in text:
                        self.fail("a secret's piece %r leaked into: %s" % (piece, text[:300]))

    def daemon(self, name="daemon", **overrides):
        d = Daemon(self.dir, self.fake, name=name, **overrides)
        self.daemons.append(d)
        return d

    def bootstrapped_daemon(self, **overrides):
        d = self.daemon(**overrides)
        result = d.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        return d.start()
