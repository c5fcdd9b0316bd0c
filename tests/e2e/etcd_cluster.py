"""Real etcd members on 127.0.0.1 for cluster-mode end-to-end tests.

`EtcdCluster(workdir, size=3)` starts `size` members of Debian's etcd (3.4) with a static initial
cluster, free client and peer ports, data directories and logs under `workdir`, and lowered raft
timers (heartbeat 50 ms, election 500 ms) so that elections take well under a second.

Nothing here sleeps to synchronise: readiness is awaited by polling each member's `/health` (which
in 3.4 needs a leader and a quorum read through raft) and `/v3/maintenance/status` (all members
agree on the leader) under a deadline. Faults: `kill(i)` (SIGKILL), `stop(i)`/`cont(i)`
(SIGSTOP/SIGCONT), `start(i)` (restart a killed member with its data directory and flags).

Data goes through etcd's v3 JSON gateway (keys and values base64 in the bodies): `put`, `get`,
`delete` and the general `call(path, body)`.
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

ETCD = os.environ.get("ETCD_BIN", "etcd")
HEARTBEAT_MS = 50
ELECTION_MS = 500


def free_ports(count):
    """`count` distinct ports the kernel just handed out on 127.0.0.1 (all bound at once, so no
    two are equal). Another process may still take one before etcd binds it: the cluster retries."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text) if text else b""


class EtcdError(RuntimeError):
    """A gateway answer other than 200: `status` and the decoded `body` (error, code, message)."""

    def __init__(self, path, status, body):
        super().__init__("%s: HTTP %d %r" % (path, status, body))
        self.status = status
        self.body = body


class BindRace(RuntimeError):
    """A member could not bind a port that was free a moment earlier."""


class Member:
    """One etcd process: name, ports, data directory, log file, command line."""

    def __init__(self, workdir, index, client_port, peer_port, scheme="http"):
        self.index = index
        self.name = "etcd%d" % index
        self.client_port = client_port
        self.peer_port = peer_port
        self.client_url = "%s://127.0.0.1:%d" % (scheme, client_port)
        self.peer_url = "http://127.0.0.1:%d" % peer_port
        self.data_dir = os.path.join(workdir, self.name + ".data")
        self.log_path = os.path.join(workdir, self.name + ".log")
        self.args = None  # set by the cluster once every peer URL is known
        self.proc = None  # None once killed
        self.log = None
        self.log_start = 0  # where this run's output begins in the log
        self.stopped = False  # SIGSTOPped

    def spawn(self):
        self.log = open(self.log_path, "a")
        self.log_start = self.log.tell()
        self.log.write("=== %s starting: %s\n" % (time.strftime("%H:%M:%S"), " ".join(self.args)))
        self.log.flush()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        self.stopped = False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def reap(self):
        """SIGKILL (works on a SIGSTOPped process too) and wait."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(30)
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None
        self.stopped = False

    def logs(self, since=0):
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(since)
                return f.read()
        except OSError:
            return ""

    def bind_failed(self):
        return "address already in use" in self.logs(self.log_start)


class EtcdCluster:
    """`size` etcd members on 127.0.0.1; see the module docstring. Usable as a context manager;
    `close()` kills every member and may be called again."""

    def __init__(self, workdir, size=3, start_timeout=30, attempts=5, extra_args=(), tls=None):
        """`tls`: {"cert": PATH, "key": PATH, "ca": PATH} serves the client URLs over HTTPS with
        that certificate (for 127.0.0.1); the module's own calls then trust `ca`."""
        self.workdir = workdir
        self.size = size
        self.extra_args = list(extra_args)
        self.ssl_context = None
        if tls:
            self.ssl_context = ssl.create_default_context(cafile=tls["ca"])
            self.extra_args = ["--cert-file", tls["cert"], "--key-file", tls["key"],
                               *self.extra_args]
        self.members = []
        os.makedirs(workdir, exist_ok=True)
        for attempt in range(attempts):
            try:
                self._launch(attempt)
                self.wait_healthy(start_timeout)
                return
            except BindRace:
                self._discard()
                if attempt == attempts - 1:
                    raise
            except BaseException:
                self.close()
                raise

    def _launch(self, attempt):
        ports = free_ports(2 * self.size)
        scheme = "https" if self.ssl_context else "http"
        self.members = [Member(self.workdir, i, ports[2 * i], ports[2 * i + 1], scheme)
                        for i in range(self.size)]
        initial = ",".join("%s=%s" % (m.name, m.peer_url) for m in self.members)
        token = "e2e-%d-%d-%d" % (os.getpid(), attempt, ports[0])
        for m in self.members:
            if os.path.exists(m.data_dir):
                shutil.rmtree(m.data_dir)
            m.args = [ETCD, "--name", m.name, "--data-dir", m.data_dir,
                      "--listen-client-urls", m.client_url,
                      "--advertise-client-urls", m.client_url,
                      "--listen-peer-urls", m.peer_url,
                      "--initial-advertise-peer-urls", m.peer_url,
                      "--initial-cluster", initial,
                      "--initial-cluster-state", "new",
                      "--initial-cluster-token", token,
                      "--heartbeat-interval", str(HEARTBEAT_MS),
                      "--election-timeout", str(ELECTION_MS),
                      "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
                      *self.extra_args]
        for m in self.members:
            m.spawn()

    def _discard(self):
        for m in self.members:
            m.reap()
            shutil.rmtree(m.data_dir, ignore_errors=True)
        self.members = []

    # --- context manager and clean-up -----------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Kills every member (SIGSTOPped ones too); safe to call twice."""
        for m in self.members:
            try:
                m.reap()
            except Exception:
                pass

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # --- topology -------------------------------------------------------------------------------

    @property
    def endpoints(self):
        return [m.client_url for m in self.members]

    def endpoint(self, i):
        return self.members[i].client_url

    def logs(self, i=None):
        """One member's log, or every member's, headed by its name."""
        if i is not None:
            return self.members[i].logs()
        return "\n".join("--- %s ---\n%s" % (m.name, m.logs()) for m in self.members)

    def live(self):
        """Indexes of members not killed (by `kill`) and not SIGSTOPped; one that died on its
        own counts, so that waiting for it fails at once."""
        return [m.index for m in self.members if m.proc is not None and not m.stopped]

    # --- faults ---------------------------------------------------------------------------------

    def kill(self, i):
        """SIGKILL member i and reap it."""
        self.members[i].reap()

    def stop(self, i):
        """SIGSTOP member i: its sockets stay open but nothing answers."""
        m = self.members[i]
        m.proc.send_signal(signal.SIGSTOP)
        m.stopped = True

    def cont(self, i):
        m = self.members[i]
        m.proc.send_signal(signal.SIGCONT)
        m.stopped = False

    def start(self, i, timeout=30):
        """Restarts killed member i with its data directory and flags; returns once it answers
        `/health` (which needs a quorum: with a majority down it would never become healthy, so
        then only wait for it to answer `/v3/maintenance/status`)."""
        m = self.members[i]
        if m.running():
            raise RuntimeError("%s is still running" % m.name)
        m.reap()
        m.spawn()
        quorum = len(self.live()) > self.size // 2
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(m)
            if (self._healthy(m) if quorum else self._status(m) is not None):
                return
            self._pause(deadline, "%s did not come back" % m.name)

    # --- readiness ------------------------------------------------------------------------------

    def wait_healthy(self, timeout=30, members=None):
        """Polls until every running (not SIGSTOPped) member, or those in `members`, answers
        `/health` true and all of them name the same leader in `/v3/maintenance/status`."""
        deadline = time.monotonic() + timeout
        while True:
            wanted = [self.members[i] for i in (members if members is not None else self.live())]
            for m in wanted:
                self._check_alive(m)
            if wanted and all(self._healthy(m) for m in wanted):
                leaders = {(self._status(m) or {}).get("leader") for m in wanted}
                if len(leaders) == 1 and None not in leaders and "0" not in leaders:
                    return
            self._pause(deadline, "the etcd cluster did not become healthy")

    def _check_alive(self, m):
        if m.proc is None:
            raise RuntimeError("%s was killed" % m.name)
        if m.proc.poll() is not None:
            if m.bind_failed():
                raise BindRace("%s could not bind its ports" % m.name)
            raise RuntimeError("%s exited with %s; log:\n%s"
                               % (m.name, m.proc.returncode, m.logs(m.log_start)[-4000:]))

    def _pause(self, deadline, what):
        if time.monotonic() >= deadline:
            raise TimeoutError("%s; logs:\n%s" % (what, self.logs()[-8000:]))
        time.sleep(0.05)  # polling interval, not a synchronisation

    def _healthy(self, m):
        try:
            status, body = self._http(m.client_url, "GET", "/health", None, timeout=2)
        except (OSError, http.client.HTTPException, ValueError):
            return False
        return status == 200 and body.get("health") == "true"

    def _status(self, m):
        """The member's `/v3/maintenance/status` answer, or None."""
        try:
            status, body = self._http(m.client_url, "POST", "/v3/maintenance/status", {},
                                      timeout=2)
        except (OSError, http.client.HTTPException, ValueError):
            return None
        return body if status == 200 else None

    def leader(self):
        """Index of the current leader as the live members see it, or None."""
        for i in self.live():
            st = self._status(self.members[i])
            if st and st.get("leader") not in (None, "0"):
                for j in self.live():
                    mj = self._status(self.members[j])
                    if mj and mj["header"]["member_id"] == st["leader"]:
                        return j
        return None

    # --- the JSON gateway -----------------------------------------------------------------------

    def _http(self, base, method, path, body, timeout):
        host, port = base.rsplit("/", 1)[1].rsplit(":", 1)
        if base.startswith("https:"):
            conn = http.client.HTTPSConnection(host, int(port), timeout=timeout,
                                               context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            data = json.dumps(body) if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
        finally:
            conn.close()

    def call(self, path, body, member=None, timeout=5):
        """POSTs `body` (a dict) to `path` on member `member` (else the first live member that
        answers) and returns the decoded answer; raises EtcdError on a status other than 200."""
        order = [member] if member is not None else self.live()
        last = None
        for i in order:
            try:
                status, answer = self._http(self.members[i].client_url, "POST", path, body,
                                            timeout)
            except (OSError, http.client.HTTPException) as e:
                last = e
                continue
            if status != 200:
                raise EtcdError(path, status, answer)
            return answer
        raise ConnectionError("no etcd member answered %s: %r" % (path, last))

    def put(self, key, value, lease=None, member=None, timeout=5):
        """Returns the revision of the write."""
        body = {"key": b64(key), "value": b64(value)}
        if lease is not None:
            body["lease"] = str(lease)
        return int(self.call("/v3/kv/put", body, member, timeout)["header"]["revision"])

    def get_kv(self, key, member=None, timeout=5, serializable=False):
        """The decoded kv dict (key, value as bytes; revisions and version as ints; lease) or
        None when the key is absent."""
        body = {"key": b64(key)}
        if serializable:
            body["serializable"] = True
        answer = self.call("/v3/kv/range", body, member, timeout)
        kvs = answer.get("kvs") or []
        if not kvs:
            return None
        kv = kvs[0]
        return {"key": unb64(kv.get("key")), "value": unb64(kv.get("value")),
                "create_revision": int(kv.get("create_revision", 0)),
                "mod_revision": int(kv.get("mod_revision", 0)),
                "version": int(kv.get("version", 0)), "lease": int(kv.get("lease", 0))}

    def get(self, key, member=None, timeout=5, serializable=False):
        """The value as text, or None when the key is absent."""
        kv = self.get_kv(key, member, timeout, serializable)
        return None if kv is None else kv["value"].decode("utf-8", "replace")

    def delete(self, key, member=None, timeout=5):
        """Returns how many keys were deleted."""
        answer = self.call("/v3/kv/deleterange", {"key": b64(key)}, member, timeout)
        return int(answer.get("deleted", 0))
