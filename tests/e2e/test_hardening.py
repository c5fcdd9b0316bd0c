"""The hardening issue, item by item: a hostile local user, a Priava that echoes secrets, a careless
operator. Each test here failed before its fix.

Parts run clients or plant files as another user with setpriv(1), so they need root (CI runs as
root)."""

import json
import os
import pwd
import select
import signal
import socket
import stat
import subprocess
import sys
import time
import unittest
import urllib.parse

from harness import CLIENT_SECRET, DAEMON, E2ETestCase, OBSERVED

NOBODY = pwd.getpwnam("nobody")
AS_NOBODY = ["setpriv", "--reuid=%d" % NOBODY.pw_uid, "--regid=%d" % NOBODY.pw_gid,
             "--clear-groups"]
needs_root = unittest.skipUnless(os.geteuid() == 0, "needs root to act as another user")


def pieces(secret):
    """Every 8-character piece of a secret (the whole of a shorter one)."""
    return {secret[i:i + 8] for i in range(max(1, len(secret) - 7))}


def views(text):
    """The text as it is and with percent- and form-encoding undone."""
    return [text, urllib.parse.unquote(text), urllib.parse.unquote_plus(text)]


def nobody_dir(parent, name, mode=0o700):
    path = os.path.join(parent, name)
    os.mkdir(path)
    os.chmod(path, mode)
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    return path


@needs_root
class RootFollowsNoLinks(E2ETestCase):
    """Item 1: root's bootstrap into a directory another user owns."""

    def setUp(self):
        super().setUp()
        os.chmod(self.dir, 0o755)
        self.state_dir = nobody_dir(self.dir, "state")
        self.victim = os.path.join(self.dir, "victim")  # root's file, e.g. /etc/shadow
        with open(self.victim, "w") as f:
            f.write("precious\n")
        os.chmod(self.victim, 0o644)

    def assert_victim_untouched(self):
        st = os.stat(self.victim)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (0, 0, 0o644))
        with open(self.victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_a_planted_symlink_beside_the_state_is_not_followed(self):
        d = self.daemon(state_path=os.path.join(self.state_dir, "state.json"))
        for name in ("state.json.probe", ".state.json.probe-%d" % os.getpid()):
            os.symlink(self.victim, os.path.join(self.state_dir, name))
        result = d.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assert_victim_untouched()
        st = os.stat(d.state)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (NOBODY.pw_uid, 0o600))
        # check-config run by root reads the state as its owner, as the daemon would.
        check = d.cli("check-config", "--config", d.config)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("generation 1", check.stdout)

    def test_a_lock_file_that_is_a_hard_link_is_refused_not_truncated(self):
        d = self.daemon(state_path=os.path.join(self.state_dir, "state.json"))
        os.link(self.victim, d.state + ".lock")
        result = d.bootstrap()
        self.assertEqual(result.returncode, 78, result.stderr)
        self.assertIn("lock file " + d.state + ".lock", result.stderr)
        self.assert_victim_untouched()
        # A hard link to the state file itself, which the owner could make.
        os.unlink(d.state + ".lock")
        self.assertEqual(d.bootstrap().returncode, 0)
        with open(d.state, "rb") as f:
            state = f.read()
        os.unlink(d.state + ".lock")
        os.link(d.state, d.state + ".lock")
        result = d.bootstrap(None, "--force")
        self.assertEqual(result.returncode, 78, result.stderr)
        self.assertIn("not a regular file of this user with a single link", result.stderr)
        with open(d.state, "rb") as f:
            self.assertEqual(f.read(), state)

    def test_a_fifo_as_lock_file_is_refused_at_once(self):
        d = self.daemon(state_path=os.path.join(self.state_dir, "state.json"))
        os.mkfifo(d.state + ".lock")
        os.chown(d.state + ".lock", NOBODY.pw_uid, NOBODY.pw_gid)
        result = d.bootstrap()
        self.assertEqual(result.returncode, 78, result.stderr)
        self.assertIn("lock file", result.stderr)


SQUATTER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
print("listening", flush=True)
conn, _ = s.accept()
got = b""
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    got += chunk
with open(sys.argv[2], "wb") as f:
    f.write(got)
"""


@needs_root
class WhoIsOnTheOtherEnd(E2ETestCase):
    """Item 2: the listener, the directories, a reload, an empty override."""

    def setUp(self):
        super().setUp()
        os.chmod(self.dir, 0o755)

    def test_bootstrap_sends_no_code_to_a_socket_another_user_squats(self):
        d = self.bootstrapped_daemon()
        den = nobody_dir(self.dir, "den", 0o755)
        squat, got = os.path.join(den, "s.sock"), os.path.join(den, "got")
        squatter = subprocess.Popen(AS_NOBODY + [sys.executable, "-c", SQUATTER, squat, got],
                                    stdout=subprocess.PIPE, text=True)
        self.assertEqual(squatter.stdout.readline().strip(), "listening")
        os.rename(d.socket, d.socket + ".real")
        os.rename(squat, d.socket)  # the path now leads to nobody's listener
        code = self.fake.code()
        result = d.bootstrap(code)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("is served by uid %d" % NOBODY.pw_uid, result.stderr)
        self.assertEqual(squatter.wait(10), 0)
        squatter.stdout.close()
        with open(got, "rb") as f:
            self.assertEqual(f.read(), b"", "the squatter received something")

    def test_group_or_world_writable_directories_are_refused_with_the_fix(self):
        for mode in (0o777, 0o1777, 0o775):
            shared = os.path.join(self.dir, "shared-%o" % mode)
            os.mkdir(shared)
            os.chmod(shared, mode)
            d = self.daemon(name="d%o" % mode, state_path=os.path.join(shared, "state.json"))
            result = d.bootstrap()
            self.assertEqual(result.returncode, 78, result.stderr)
            self.assertIn("state directory (state.path) " + shared, result.stderr)
            self.assertIn("chmod go-w " + shared, result.stderr)
            self.assertFalse(os.path.exists(os.path.join(shared, "state.json")))
            check = d.cli("check-config", "--config", d.config)
            self.assertNotEqual(check.returncode, 0)
            self.assertIn("chmod go-w " + shared, check.stdout + check.stderr)
            d.start(wait_ready=False)
            self.assertEqual(d.proc.wait(20), 78)
            self.assertIn("chmod go-w " + shared, d.logs())
            d.stop()
        sockets = os.path.join(self.dir, "sockets")
        os.mkdir(sockets)
        os.chmod(sockets, 0o1777)
        d = self.daemon(name="sock", listen={"socket": os.path.join(sockets, "t.sock")})
        self.assertEqual(d.bootstrap().returncode, 78)
        d.start(wait_ready=False)
        self.assertEqual(d.proc.wait(20), 78)
        self.assertIn("socket directory (listen.socket) " + sockets, d.logs())
        d.stop()

    def test_run_refuses_a_state_directory_another_user_owns(self):
        theirs = nobody_dir(self.dir, "theirs")
        d = self.daemon(state_path=os.path.join(theirs, "state.json"))
        d.start(wait_ready=False)
        self.assertEqual(d.proc.wait(20), 78)
        self.assertIn("belongs to uid %d" % NOBODY.pw_uid, d.logs())
        d.stop()

    def test_a_narrower_allow_list_reaches_open_keep_alive_connections(self):
        d = self.bootstrapped_daemon(listen={"mode": "0666"})
        client = subprocess.Popen(
            AS_NOBODY + [sys.executable, "-c", KEEP_ALIVE_CLIENT, d.socket],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.assertEqual(client.stdout.readline().strip(), "200")
        with open(d.config) as f:
            text = f.read().replace("[listen]\n", "[listen]\nallow_uids = [0]\n")
        with open(d.config, "w") as f:
            f.write(text)
        seen = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        d.wait_notify("READY=1", 20, since=seen)  # the reload is done
        client.stdin.write("again\n")
        client.stdin.flush()
        self.assertEqual(client.stdout.readline().strip(), "403")
        self.assertEqual(client.wait(10), 0)
        client.stdin.close()
        client.stdout.close()

    def test_an_empty_environment_override_is_a_configuration_error(self):
        d = self.daemon(listen={"mode": "0666", "allow_uids": [0]})
        self.assertEqual(d.bootstrap().returncode, 0)
        d.start(wait_ready=False, env={"PRIAVA_TOKEND_LISTEN_ALLOW_UIDS": ""})
        self.assertEqual(d.proc.wait(20), 78)
        self.assertIn("PRIAVA_TOKEND_LISTEN_ALLOW_UIDS", d.logs())
        self.assertIn("is set but empty", d.logs())
        d.stop()


KEEP_ALIVE_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rb")
def ask():
    s.sendall(b"GET /v1/token HTTP/1.1\r\nHost: localhost\r\n\r\n")
    status = f.readline().split()[1].decode()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    f.read(length)
    print(status, flush=True)
ask()
sys.stdin.readline()
ask()
"""


class SecretsEchoedByPriava(E2ETestCase):
    """Item 3: Priava's words are redacted in every form, before any cut, everywhere."""

    def assert_nothing_secret_in(self, text, secrets):
        for secret in secrets:
            for piece in pieces(secret):
                for view in views(text):
                    self.assertNotIn(piece, view, "a piece of a secret in: " + text[:400])

    def test_a_rejection_echoing_the_refresh_request_is_redacted_in_status_and_log(self):
        d = self.bootstrapped_daemon()
        self.fake.faults([{"kind": "echo_request", "count": 0}])
        d.post("/v1/token/refresh")
        status = d.wait_status(lambda s: s["state"] == "reauth_required" or
                               (s.get("last_error") or {}).get("error", "").startswith("invalid"))
        issued = json.loads(self.fake.control("GET", "/issued"))
        self.assertIn("[redacted]", json.dumps(status))
        secrets = issued["refresh_tokens"] + issued["codes"] + [CLIENT_SECRET]
        self.assert_nothing_secret_in(json.dumps(status), secrets)
        self.assert_nothing_secret_in(d.logs(), secrets)

    def test_bootstrap_prints_no_piece_of_the_code_or_secret_priava_echoed(self):
        d = self.daemon()
        self.fake.faults([{"kind": "echo_request", "count": 0}])
        code = self.fake.code()
        result = d.bootstrap(code)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("[redacted]", result.stderr)
        self.assert_nothing_secret_in(result.stderr, [code, CLIENT_SECRET])

    def test_a_code_given_where_a_file_name_belongs_is_not_quoted(self):
        d = self.daemon()
        code = self.fake.code()
        result = d.cli("bootstrap", "--config", d.config, "--code-file", code)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--code-file", result.stderr)
        self.assert_nothing_secret_in(result.stderr, [code])


class SecretsInMemory(E2ETestCase):
    """Item 4: no core dump, no secret left in the environment."""

    def test_the_client_secret_leaves_the_environment_and_no_core_can_be_dumped(self):
        d = self.daemon()
        with open(d.config) as f:
            text = f.read()
        with open(d.config, "w") as f:
            f.write("".join(line for line in text.splitlines(True)
                            if not line.startswith("client_secret_file")))
        result = d.cli("bootstrap", "--config", d.config, "--code", "-", input=self.fake.code(),
                       env={"PRIAVA_CLIENT_SECRET": CLIENT_SECRET})
        self.assertEqual(result.returncode, 0, result.stderr)
        d.start(env={"PRIAVA_CLIENT_SECRET": CLIENT_SECRET})
        self.assertEqual(d.token()["generation"], 1)
        with open("/proc/%d/environ" % d.proc.pid, "rb") as f:
            environ = f.read()
        self.assertNotIn(CLIENT_SECRET.encode(), environ)
        self.assertNotIn(b"PRIAVA_CLIENT_SECRET", environ)
        with open("/proc/%d/limits" % d.proc.pid) as f:
            core = [line.split()[4:6] for line in f if line.startswith("Max core file size")]
        self.assertEqual(core, [["0", "0"]])


    def test_the_units_forbid_core_dumps_too(self):
        units = os.path.join(os.path.dirname(__file__), "..", "..", "systemd")
        for unit in ("priava-tokend.service", "priava-tokend@.service"):
            with open(os.path.join(units, unit)) as f:
                self.assertIn("\nLimitCORE=0\n", f.read(), unit)


class BoundsAndBlocking(E2ETestCase):
    """Item 5: nothing the daemon opens can block it; floods and long polls are bounded; RFC
    9112 framing."""

    def test_a_fifo_as_code_file_is_refused_without_blocking(self):
        fifo = os.path.join(self.dir, "code.fifo")
        os.mkfifo(fifo)
        d = self.daemon(bootstrap={"code_file": fifo})
        d.start(wait_ready=False)
        self.assertEqual(d.proc.wait(20), 78)
        self.assertIn("is not a regular file", d.logs())
        d.stop()
        result = d.cli("check-config", "--config", d.config, timeout=20)
        self.assertIn("is not a regular file", result.stdout + result.stderr)

    def test_a_tiny_watchdog_usec_is_clamped_not_a_busy_loop(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        d.start(env={"WATCHDOG_USEC": "2"})
        first = d.mark()
        d.wait_notify("WATCHDOG=1", 5, since=first)
        started = time.monotonic()
        pings_before = self.count_pings(d)
        # A measurement window, not a synchronisation: how many pings one second holds.
        time.sleep(1.0)
        pings = self.count_pings(d) - pings_before
        elapsed = time.monotonic() - started
        self.assertLessEqual(pings, elapsed / 0.1 + 2, "pings every %.3f ms" % (
            1000 * elapsed / max(pings, 1)))

    @staticmethod
    def count_pings(d):
        with d.messages_changed:
            return sum(m.split("\n").count("WATCHDOG=1") for m in d.messages)

    @needs_root
    def test_a_flood_of_refused_peers_is_logged_at_a_bounded_rate(self):
        os.chmod(self.dir, 0o755)
        d = self.bootstrapped_daemon(listen={"mode": "0666", "allow_uids": [0]})
        flood = subprocess.run(AS_NOBODY + [sys.executable, "-c", FLOOD, d.socket, "300"],
                               capture_output=True, text=True, timeout=120)
        self.assertEqual(flood.stdout.strip(), "403 x300", flood.stderr)
        self.assertEqual(d.stop(), 0)
        lines = [line for line in d.logs().splitlines() if "refused" in line]
        self.assertLessEqual(len(lines), 6, "\n".join(lines))
        held = sum(int(word) for line in lines for word in
                   [line.split(" more ")[0].split()[-1]] if " more " in line)
        self.assertEqual(len([line for line in lines if "from uid" in line]) + held, 300)

    def test_long_polls_cannot_take_every_connection(self):
        d = self.daemon(listen={"max_connections": 8})
        self.assertEqual(d.bootstrap().returncode, 0)
        d.start()
        polls = []
        for _ in range(6):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket)
            s.sendall(b"GET /v1/token?newer_than=1&wait=60 HTTP/1.1\r\nHost: x\r\n\r\n")
            polls.append(s)
        # The cap is half of max_connections: two of the six are answered at once, the other
        # four wait (for a generation that does not come within the test).
        answered, deadline = {}, time.monotonic() + 10
        while len(answered) < 2 and time.monotonic() < deadline:
            ready, _, _ = select.select([s for s in polls if s not in answered], [], [],
                                        deadline - time.monotonic())
            for s in ready:
                answered[s] = s.recv(65536).decode()
        self.assertEqual(len(answered), 2, "long polls beyond the cap were not refused")
        for reply in answered.values():
            self.assertTrue(reply.startswith("HTTP/1.1 503"), reply)
            self.assertIn("too_many_waiters", reply)
        for _ in range(3):  # plain requests are still served, again and again
            self.assertEqual(d.token()["generation"], 1)
        for s in polls:
            s.close()

    def test_transfer_encoding_other_than_chunked_is_400(self):
        d = self.bootstrapped_daemon()
        for coding in ("gzip", "gzip, chunked", "identity"):
            reply = self.raw(d, "POST /v1/token/refresh HTTP/1.1\r\nHost: x\r\n"
                                "Transfer-Encoding: %s\r\n\r\n" % coding)
            self.assertTrue(reply.startswith("HTTP/1.1 400"), reply)
            self.assertIn("Transfer-Encoding", reply)

    def test_expect_100_continue_is_answered_at_once(self):
        d = self.bootstrapped_daemon()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)  # the head timeout is 10 s: a 100 Continue must come long before
        s.connect(d.socket)
        s.sendall(b"POST /v1/token/refresh HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 100 Continue"))
        s.sendall(b"{}")
        self.assertIn(b"HTTP/1.1 200", s.recv(65536))
        s.close()
        reply = self.raw(d, "POST /v1/token/refresh HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                            "Expect: something-else\r\n\r\n")
        self.assertTrue(reply.startswith("HTTP/1.1 417"), reply)

    def raw(self, d, text):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(d.socket)
        s.sendall(text.encode())
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        s.close()
        OBSERVED.append((False, reply.decode(errors="replace")))
        return reply.decode(errors="replace")


FLOOD = r"""
import socket, sys
counts = {}
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b"GET /v1/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    status = reply.split()[1].decode()
    counts[status] = counts.get(status, 0) + 1
    s.close()
print(" ".join("%s x%d" % kv for kv in sorted(counts.items())))
"""


if __name__ == "__main__":
    unittest.main()
