"""systemd: the sd_notify protocol, socket activation, the unit files and their sandbox, and
`cmake --install`.

systemd is not PID 1 where these run, so no unit is started for real. The daemon's side of the
contract is driven the way systemd drives it: a NOTIFY_SOCKET the test owns, WATCHDOG_USEC,
`systemd-socket-activate` for LISTEN_FDS, an unprivileged user with the client secret in
$CREDENTIALS_DIRECTORY (LoadCredential=) and strace to hold the daemon's system calls, socket
families and file writes against the unit's SystemCallFilter=, RestrictAddressFamilies= and
ProtectSystem=strict. The unit files themselves go through `systemd-analyze verify` and
`systemd-analyze security --offline=yes`.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import (CLIENT_ID, CLIENT_SECRET, DAEMON, REDIRECT_URI, Daemon, E2ETestCase,
                     UnixHTTPConnection, read_line_with_deadline)

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
UNIT_DIR = os.path.join(SOURCE_DIR, "systemd")
EXAMPLE_CONFIG = os.path.join(SOURCE_DIR, "conf", "priava-tokend.toml")
SERVICES = ("priava-tokend.service", "priava-tokend@.service")
SOCKETS = ("priava-tokend.socket", "priava-tokend@.socket")
UNITS = SERVICES + SOCKETS
SHIPPED_BINARY = "/usr/bin/priava-tokend"
MAX_EXPOSURE = 1.5

DAEMON_PATH = os.path.abspath(shutil.which(DAEMON) or DAEMON)
ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"
NOBODY = 65534
SO_TIMESTAMPNS = 35  # <asm-generic/socket.h>; also the control message's type

# Anything a systemd service manager would have set for the test runner itself.
SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                     "LISTEN_PID", "LISTEN_FDNAMES", "CREDENTIALS_DIRECTORY")


def setUpModule():
    for name in SYSTEMD_VARIABLES:
        os.environ.pop(name, None)


def build_dir():
    """PRIAVA_TOKEND_BUILD_DIR, else the build directory the daemon binary sits in."""
    candidate = os.environ.get("PRIAVA_TOKEND_BUILD_DIR") or os.path.dirname(
        os.path.abspath(shutil.which(DAEMON) or DAEMON))
    return candidate if os.path.exists(os.path.join(candidate, "CMakeCache.txt")) else None


def cmake_cache(build):
    values = {}
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            match = re.match(r"^([A-Za-z_0-9]+):[A-Z]+=(.*)$", line.rstrip("\n"))
            if match:
                values[match.group(1)] = match.group(2)
    return values


# --- unit files -----------------------------------------------------------------------------------

def read_unit(path):
    """[(section, key, value)] in file order; comments and blank lines dropped."""
    entries = []
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line[1:-1]
                continue
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(entries, section, key):
    return [v for s, k, v in entries if s == section and k == key]


def unit_value(entries, section, key):
    values = unit_values(entries, section, key)
    if len(values) != 1:
        raise AssertionError("[%s] %s= set %d times" % (section, key, len(values)))
    return values[0]


def documented_bootstrap(path):
    """The `systemd-run ... priava-tokend bootstrap` command in a service unit's comments:
    ({property: value}, command argv)."""
    with open(path) as f:
        lines = [line[1:].strip() for line in f if line.startswith("#   systemd-run ")]
    if len(lines) != 1:
        raise AssertionError("%s: expected one systemd-run bootstrap line, found %d"
                             % (path, len(lines)))
    words = shlex.split(lines[0])
    properties = {}
    i = 1
    while words[i].startswith("-"):
        if words[i] == "-p":
            key, _, value = words[i + 1].partition("=")
            properties[key] = value
            i += 2
        else:
            i += 1
    command = [w for w in words[i:] if not w.startswith("<")]
    return properties, command


def units_for_binary(directory, binary):
    """Copies of the shipped units in `directory`, ExecStart= pointing at `binary` (verify wants
    the executable to exist)."""
    for name in UNITS:
        with open(os.path.join(UNIT_DIR, name)) as f:
            text = f.read()
        with open(os.path.join(directory, name), "w") as f:
            f.write(text.replace(SHIPPED_BINARY, binary))


def verify(*arguments):
    """`systemd-analyze verify`; returns (exit status, everything it printed)."""
    result = subprocess.run(["systemd-analyze", "verify", *arguments], capture_output=True,
                            text=True, timeout=120)
    return result.returncode, (result.stdout + result.stderr).strip()


def exposure(path):
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", path],
                            capture_output=True, text=True, timeout=120)
    match = re.search(r"Overall exposure level for (\S+): ([0-9.]+)", result.stdout)
    if not match:
        raise AssertionError("no exposure level for %s:\n%s%s"
                             % (path, result.stdout, result.stderr))
    return float(match.group(2)), result.stdout


# --- the daemon as systemd would run it -----------------------------------------------------------

def notify_assignments(message):
    return dict(line.split("=", 1) for line in message.split("\n") if "=" in line)


class SupervisedDaemon(Daemon):
    """A harness Daemon whose NOTIFY_SOCKET this module reads itself, as systemd would: on a
    thread, so the daemon never meets a full queue, keeping each datagram's kernel receive time.

    `activate` puts `systemd-socket-activate` in front of the daemon: the activator makes the
    listening socket, waits for the first connection and then execs the daemon in its own
    process with LISTEN_FDS=1, as a .socket unit does (`prefix`: commands in front of the
    activator, such as strace; `wrapper`: commands between it and the daemon, such as setpriv).
    """

    prefix = ()
    drain = None
    signal_on_ready = None  # sent from the reader thread the moment READY=1 arrives

    def _listen_for_notifications(self):
        self.notify_path = os.path.join(self.workdir, self.name + ".notify")
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        os.chmod(self.notify_path, 0o777)  # as /run/systemd/notify: any service user may send
        self.notify.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.notes = []  # (kernel receive time, message), in order
        self.notes_changed = threading.Condition()
        self.notify_reader = threading.Thread(target=self._read_notifications, daemon=True)
        self.notify_reader.start()
        self.log = open(self.log_path, "a")

    def _read_notifications(self):
        while True:
            try:
                data, ancillary, _, _ = self.notify.recvmsg(4096, socket.CMSG_SPACE(16))
            except OSError:
                return
            if not data:
                return
            stamp = [d for level, kind, d in ancillary
                     if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS]
            if stamp:
                sec, nsec = struct.unpack("qq", stamp[0][:16])
                received = sec + nsec / 1e9
            else:
                received = time.time()
            message = data.decode()
            harness.OBSERVED.append((False, message))  # STATUS= lines go to the secret scan
            if self.signal_on_ready and "READY=1" in message.split("\n"):
                self.kill(self.signal_on_ready)
                self.signal_on_ready = None
            with self.notes_changed:
                self.notes.append((received, message))
                self.notes_changed.notify_all()

    def _watch(self):
        def wait():
            self.proc.wait()
            with self.notes_changed:
                self.notes_changed.notify_all()
        threading.Thread(target=wait, daemon=True).start()

    def start(self, wait_ready=True, env=None):
        self._listen_for_notifications()
        full_env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, **(env or {}))
        self.proc = subprocess.Popen([DAEMON_PATH, "run", "--config", self.config], env=full_env,
                                     stdout=self.log, stderr=self.log)
        self._watch()
        if wait_ready:
            self.wait_notify("READY=1", 20)
        return self

    def activate(self, env=None, prefix=(), wrapper=(), sockets=None):
        self._listen_for_notifications()
        self.prefix = list(prefix)
        args = [*prefix, ACTIVATE]
        for path in sockets or [self.socket]:
            args += ["-l", path]
        for key, value in dict(env or {}, NOTIFY_SOCKET=self.notify_path).items():
            args += ["-E", "%s=%s" % (key, value)]
        args += [*wrapper, DAEMON_PATH, "run", "--config", self.config]
        # umask 022: the activator makes the socket 0644, which no listen.mode here asks for.
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.PIPE,
                                     preexec_fn=lambda: os.umask(0o022))
        line = read_line_with_deadline(self.proc.stderr, 20).decode()
        if "Listening on" not in line:
            raise AssertionError("systemd-socket-activate did not listen: %r" % line)
        self.log.write(line)
        self.log.flush()
        self.drain = threading.Thread(target=self._copy_stderr, daemon=True)
        self.drain.start()
        self._watch()
        return self

    def _copy_stderr(self):
        for line in iter(self.proc.stderr.readline, b""):
            self.log.write(line.decode("utf-8", "replace"))
            self.log.flush()

    def mark(self):
        with self.notes_changed:
            return len(self.notes)

    def wait_notify(self, wanted, seconds=20, since=0):
        """Waits for a datagram after `since` holding the line `wanted`; returns the messages
        from `since` up to and including it."""
        deadline = time.monotonic() + seconds
        with self.notes_changed:
            while True:
                for i in range(since, len(self.notes)):
                    if wanted in self.notes[i][1].split("\n"):
                        return [m for _, m in self.notes[since:i + 1]]
                if self.proc.poll() is not None:
                    raise AssertionError("daemon exited with %s before %s; log:\n%s"
                                         % (self.proc.returncode, wanted, self.logs()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s within %s s; got %r; log:\n%s"
                                         % (wanted, seconds, self.notes[since:], self.logs()))
                self.notes_changed.wait(left)

    def watchdog_times(self, seconds):
        """Receive times of the WATCHDOG=1 datagrams that arrive in the next `seconds`."""
        since = self.mark()
        deadline = time.monotonic() + seconds
        with self.notes_changed:
            while time.monotonic() < deadline and self.proc.poll() is None:
                self.notes_changed.wait(deadline - time.monotonic())
            return [t for t, m in self.notes[since:] if "WATCHDOG=1" in m.split("\n")]

    def pid(self):
        """The daemon's pid: the activator execs it in its own process."""
        if not self.prefix:
            return self.proc.pid
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            return int(f.read().split()[0])

    def kill(self, sig):
        os.kill(self.pid(), sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.kill(sig)
        code = self.proc.wait(timeout)
        if self.drain is not None:
            self.drain.join(timeout)
            self.proc.stderr.close()
        self.log.close()
        self.notify.shutdown(socket.SHUT_RDWR)
        self.notify.close()
        self.notify_reader.join(5)
        self.proc = None
        return code


class SystemdTestCase(E2ETestCase):
    def daemon(self, name="daemon", **overrides):
        d = SupervisedDaemon(self.dir, self.fake, name=name, **overrides)
        self.daemons.append(d)
        return d

    def code_file(self):
        path = os.path.join(self.dir, "code")
        with open(path, "w") as f:
            f.write(self.fake.code() + "\n")
        return path


# --- sd_notify ------------------------------------------------------------------------------------

class Notify(SystemdTestCase):
    def test_ready_waits_for_a_usable_token_and_stopping_precedes_exit(self):
        # Only a code to exchange, and Priava takes 1.5 s to answer: the daemon is up (its socket
        # answers) well before it may say READY=1.
        self.fake.faults([{"kind": "delay", "ms": 1500}])
        d = self.daemon(bootstrap={"code_file": self.code_file()})
        started = time.monotonic()
        d.start(wait_ready=False)
        d.wait_notify("STATUS=refreshing")
        self.assertEqual(d.get("/readyz")[0], 503)
        seen = d.wait_notify("READY=1")
        waited = time.monotonic() - started
        before, ready = seen[:-1], notify_assignments(seen[-1])

        self.assertTrue(before, "no STATUS= before READY=1")
        for message in before:
            fields = notify_assignments(message)
            self.assertNotIn("READY", fields)
            self.assertIn(fields["STATUS"], ("starting", "refreshing"))
        self.assertGreaterEqual(waited, 1.4, "READY=1 came before Priava answered")
        self.assertEqual(self.fake.stats()["authorization_code_grants"], 1)

        token = d.token()
        self.assertEqual(ready["STATUS"],
                         "valid, generation 1, expires %s" % token["expires_at"])

        d.proc.send_signal(signal.SIGTERM)
        d.wait_notify("STOPPING=1", 10)
        self.assertEqual(d.stop(), 0)

    def test_status_follows_a_refresh_with_state_generation_and_expiry(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        d.start()
        since = d.mark()
        status, _, refreshed = d.post("/v1/token/refresh")
        self.assertEqual(status, 200)
        seen = d.wait_notify("STATUS=valid, generation 2, expires %s" % refreshed["expires_at"],
                             10, since)
        statuses = [notify_assignments(m)["STATUS"] for m in seen]
        self.assertRegex(statuses[0], r"^refreshing, generation 1, expires "
                                      r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_watchdog_pings_every_half_watchdog_usec_while_a_slow_refresh_runs(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        d.start(env={"WATCHDOG_USEC": "400000"})
        # A refresh that takes 1.5 s and a client waiting for it must not stall the event loop.
        self.fake.faults([{"kind": "delay", "ms": 1500}])
        answers = []
        refresh = threading.Thread(target=lambda: answers.append(d.post("/v1/token/refresh")))
        refresh.start()
        times = d.watchdog_times(2.2)
        refresh.join(30)
        self.assertEqual(answers[0][0], 200)
        self.assertEqual(answers[0][2]["generation"], 2)

        intervals = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(len(intervals), 8, intervals)
        self.assertTrue(0.15 <= statistics.median(intervals) <= 0.35, intervals)
        # systemd kills the service once WATCHDOG_USEC passes without a ping.
        self.assertLess(max(intervals), 0.4, intervals)

    def test_ready_comes_at_ready_timeout_when_priava_cannot_be_reached(self):
        # Priava answers nothing but 503: no token comes, and the boot must not wait for one.
        self.fake.faults([{"kind": "status", "status": 503, "count": 0}])
        d = self.daemon(bootstrap={"code_file": self.code_file()},
                        refresh={"ready_timeout": "1s", "min_backoff": "100ms",
                                 "max_backoff": "200ms"})
        started = time.monotonic()
        d.start(wait_ready=False)
        seen = d.wait_notify("READY=1", 10)
        self.assertGreaterEqual(time.monotonic() - started, 0.9, "READY=1 before ready_timeout")
        status = notify_assignments(seen[-1])["STATUS"]
        self.assertRegex(status, r"^(retrying \(.+\)|refreshing)")  # with the cause
        self.assertEqual(d.get("/readyz")[0], 503)
        self.assertIn("ready without a usable token (", d.logs())
        self.fake.clear_faults()
        self.assertEqual(d.wait_generation(1, seconds=20)["generation"], 1)

    def test_ready_comes_at_once_when_priava_rejects_the_credential(self):
        path = os.path.join(self.dir, "code")
        with open(path, "w") as f:
            f.write("a-code-priava-never-issued\n")
        self.extra_secrets.append("a-code-priava-never-issued")
        d = self.daemon(bootstrap={"code_file": path})
        started = time.monotonic()
        d.start(wait_ready=False)
        seen = d.wait_notify("READY=1", 10)
        self.assertLess(time.monotonic() - started, 5, "READY=1 waited for ready_timeout")
        # STATUS= names the problem in Priava's (redacted) words.
        self.assertRegex(notify_assignments(seen[-1])["STATUS"],
                         r"^reauth_required \(invalid_grant: .+\)$")
        self.assertEqual(d.get("/v1/token")[2]["error"], "reauth_required")

    def test_signals_sent_the_moment_ready_arrives_are_handled(self):
        # systemd acts on READY=1 at once: `systemctl reload` or `stop` may signal right away.
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        for _ in range(5):
            d.signal_on_ready = signal.SIGHUP
            d.start()
            d.wait_notify("RELOADING=1", 10)
            self.assertEqual(d.stop(), 0)
            d.signal_on_ready = signal.SIGTERM
            d.start()
            d.wait_notify("STOPPING=1", 10)
            self.assertEqual(d.stop(), 0)

    def test_no_watchdog_pings_when_watchdog_pid_names_another_process(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        d.start(env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        # Pings would come every 100 ms; in 0.6 s not one may arrive.
        self.assertEqual(d.watchdog_times(0.6), [])
        self.assertEqual(d.stop(), 0)


# --- socket activation ----------------------------------------------------------------------------

@unittest.skipUnless(os.path.exists(ACTIVATE), "systemd-socket-activate is not installed")
class SocketActivation(SystemdTestCase):
    def test_a_client_that_connects_before_the_first_token_is_answered_once_ready(self):
        self.fake.faults([{"kind": "delay", "ms": 1500}])
        d = self.daemon(bootstrap={"code_file": self.code_file()})
        d.activate()
        # The connection is what makes the activator start the daemon; the request waits in the
        # socket's backlog, then (a long poll for any generation) for the first token.
        client = UnixHTTPConnection(d.socket, timeout=30)
        try:
            client.request("GET", "/v1/token?newer_than=0&wait=20")
            seen = d.wait_notify("READY=1")
            self.assertFalse(any("READY=1" in m.split("\n") for m in seen[:-1]))
            response = client.getresponse()
            body = response.read().decode()
        finally:
            client.close()
        harness.OBSERVED.append((True, body))
        self.assertEqual(response.status, 200, body)
        self.assertEqual(json.loads(body)["generation"], 1)
        d.kill(signal.SIGTERM)
        d.wait_notify("STOPPING=1", 10)
        self.assertEqual(d.stop(), 0)
        self.assertIn("ready: serving tokens on the socket from systemd", d.logs())

    def test_the_inherited_socket_is_neither_chmodded_nor_removed(self):
        d = self.daemon(listen={"mode": "0600"})
        self.assertEqual(d.bootstrap().returncode, 0)
        d.activate()
        made = os.stat(d.socket)
        self.assertEqual(made.st_mode & 0o7777, 0o644)  # the activator's, not listen.mode
        status, _, body = d.get("/v1/token")  # starts the daemon; the state file is adopted
        self.assertEqual((status, body["generation"]), (200, 1))
        d.wait_notify("READY=1")
        d.kill(signal.SIGTERM)
        d.wait_notify("STOPPING=1", 10)
        self.assertEqual(d.stop(), 0)
        after = os.stat(d.socket)
        self.assertEqual((after.st_ino, after.st_mode), (made.st_ino, made.st_mode))

    def test_bootstrap_hands_a_new_code_to_the_activated_daemon(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        d.activate()
        self.assertEqual(d.get("/v1/token")[0], 200)
        self.fake.revoke()
        self.assertEqual(d.post("/v1/token/refresh")[2]["error"], "reauth_required")
        result = d.bootstrap()  # the state lock is held: the code goes over the socket
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("running daemon", result.stdout)
        self.assertEqual(d.token()["generation"], 2)
        self.assertEqual(d.stop(), 0)

    def test_more_than_one_passed_socket_is_a_configuration_error(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        second = os.path.join(self.dir, "second.sock")
        d.activate(sockets=[d.socket, second])
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(d.socket)
        try:
            self.assertEqual(d.proc.wait(20), 78)
        finally:
            probe.close()
        d.stop()
        self.assertIn("LISTEN_FDS", d.logs())


# --- the daemon inside the unit's sandbox ---------------------------------------------------------

def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif line.startswith("    ") and current is not None and not line.strip().startswith("#"):
            current.add(line.strip())

    def expand(name):
        calls = set()
        for member in groups[name]:
            calls |= expand(member) if member.startswith("@") else {member}
        return calls
    return expand


def allowed_syscalls(unit):
    """SystemCallFilter= of a unit: the first line an allow list, `~` lines taken out of it."""
    expand = syscall_groups()
    allowed = None
    for line in unit_values(unit, "Service", "SystemCallFilter"):
        deny = line.startswith("~")
        names = set()
        for item in line.lstrip("~").split():
            names |= expand(item) if item.startswith("@") else {item}
        if allowed is None:
            assert not deny, "the first SystemCallFilter= must be an allow list"
            allowed = names
        elif deny:
            allowed -= names
        else:
            allowed |= names
    return allowed


class Trace:
    """strace -f output, reduced to the process that exec'd `binary` and its threads: the calls
    with their arguments (a call strace split into "<unfinished ...>" and "resumed" appears once,
    with the arguments of its first part)."""

    CALL = re.compile(r"^(\d+)\s+(<\.\.\. )?([a-z_][a-z0-9_]*)(?:\(| resumed>)(.*)$")
    # (pid, "<... " when the line resumes an unfinished call, syscall name, the rest)

    def __init__(self, path, binary):
        with open(path) as f:
            lines = [m.groups() for m in map(self.CALL.match, f.read().splitlines()) if m]
        # First the processes: the one that exec'd the daemon, from then on, and every thread or
        # child it made (whose first calls strace may show before the clone returns).
        started = next((i for i, (_, _, name, rest) in enumerate(lines)
                        if name == "execve" and rest.startswith('"%s"' % binary)
                        and rest.endswith("= 0")), None)
        if started is None:
            raise AssertionError("%s never ran in the trace" % binary)
        made = {}  # pid: the pids it cloned
        for pid, _, name, rest in lines[started + 1:]:
            child = re.search(r"= (\d+)$", rest)
            if name in ("clone", "clone3", "fork", "vfork") and child:
                made.setdefault(pid, set()).add(child.group(1))
        pids, todo = set(), [lines[started][0]]
        while todo:
            pid = todo.pop()
            if pid not in pids:
                pids.add(pid)
                todo.extend(made.get(pid, ()))
        self.calls = [(name, rest) for pid, resumed, name, rest in lines[started + 1:]
                      if pid in pids and not resumed]

    def names(self):
        return {name for name, _ in self.calls}

    def socket_families(self):
        return {re.match(r"(\w+)", rest).group(1) for name, rest in self.calls
                if name in ("socket", "socketpair")}

    def written_paths(self):
        """Paths opened for writing, created, renamed, removed or changed."""
        paths = set()
        for name, rest in self.calls:
            quoted = re.findall(r'"((?:[^"\\]|\\.)*)"', rest)
            if name in ("open", "openat", "creat") and quoted and (
                    name == "creat" or re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest)):
                paths.add(quoted[0])
            elif name in ("rename", "renameat", "renameat2", "unlink", "unlinkat", "mkdir",
                          "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "chmod",
                          "fchmodat", "chown", "lchown", "fchownat", "truncate", "mknod",
                          "mknodat", "bind", "utimensat"):
                paths.update(quoted)
        return paths

    def opened_paths(self):
        return {re.findall(r'"((?:[^"\\]|\\.)*)"', rest)[0] for name, rest in self.calls
                if name in ("open", "openat", "stat", "newfstatat", "access", "faccessat",
                            "faccessat2", "readlink", "statx")
                and re.findall(r'"((?:[^"\\]|\\.)*)"', rest)}


@unittest.skipUnless(os.path.exists(ACTIVATE), "systemd-socket-activate is not installed")
@unittest.skipUnless(shutil.which("setpriv"), "setpriv is not installed")
@unittest.skipIf(os.environ.get("PRIAVA_TOKEND_SANITIZE"),
                 "a sanitizer runtime makes system calls of its own, outside the unit's filter")
class Sandbox(SystemdTestCase):
    """The shipped example config, edited as the README says, run the way the units run the
    daemon: an unprivileged user, the client secret only in $CREDENTIALS_DIRECTORY, umask 0077,
    the socket from the activator. The first code is exchanged the way the units' documented
    `systemd-run` bootstrap does it. strace records everything the daemon does; it has to fit the
    unit's sandbox."""

    def setUp(self):
        super().setUp()
        probe = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "true"],
                               capture_output=True) if shutil.which("strace") else None
        if probe is None or probe.returncode != 0:
            self.skipTest("strace is missing or may not trace here")
        os.chmod(self.dir, 0o755)  # the unprivileged user reads the fake's CA below it
        self.root = os.path.join(self.dir, "root")

    def host(self, path):
        return self.root + path

    def prepare(self, instance=None):
        """The files of one unit (plain, or the template's `instance`) below self.root."""
        unit = read_unit(os.path.join(UNIT_DIR, SERVICES[1] if instance else SERVICES[0]))
        substitute = (lambda v: v.replace("%i", instance)) if instance else (lambda v: v)
        exec_start = substitute(unit_value(unit, "Service", "ExecStart")).split()
        config = exec_start[exec_start.index("--config") + 1]
        credential, _, _ = substitute(
            unit_value(unit, "Service", "LoadCredential")).partition(":")
        self.assertEqual(credential, "client_secret")
        state_dir = "/var/lib/" + substitute(unit_value(unit, "Service", "StateDirectory"))
        listen = read_unit(os.path.join(UNIT_DIR, SOCKETS[1] if instance else SOCKETS[0]))
        socket_path = substitute(unit_value(listen, "Socket", "ListenStream"))

        with open(EXAMPLE_CONFIG) as f:
            text = f.read()
        if instance:
            # The README's two edits that make the example an instance's config.
            text = text.replace("/var/lib/priava-tokend/state.json",
                                "/var/lib/priava-tokend/%s/state.json" % instance)
            text = text.replace("/run/priava-tokend/token.sock",
                                "/run/priava-tokend/%s.sock" % instance)
        # The operator's edits (client_id, redirect_uri) and the test's (the fake's URL and CA).
        token_url = self.fake.token_url.replace("127.0.0.1", "localhost")  # resolved, as a name
        text = re.sub(r'(?m)^token_url\s*=.*$', 'token_url = "%s"' % token_url, text)
        text = re.sub(r'(?m)^client_id\s*=.*$', 'client_id = "%s"' % CLIENT_ID, text)
        text = re.sub(r'(?m)^redirect_uri\s*=.*$', 'redirect_uri = "%s"' % REDIRECT_URI, text)
        # The first one, [priava]'s ([cluster]'s comes later).
        text = re.sub(r'(?m)^# ca_file\s*=.*$', 'ca_file = "%s"' % self.fake.ca_file, text, count=1)
        for prefix in ("/var/lib/", "/run/"):
            text = text.replace('"%s' % prefix, '"%s%s' % (self.root, prefix))
        self.assertRegex(text, r'(?m)^path\s*=\s*"%s/state.json"' % re.escape(self.host(state_dir)))
        self.assertRegex(text, r'(?m)^socket\s*=\s*"%s"' % re.escape(self.host(socket_path)))

        os.makedirs(os.path.dirname(self.host(config)), exist_ok=True)
        with open(self.host(config), "w") as f:
            f.write(text)
        os.makedirs(self.host(state_dir), mode=0o700)
        os.chown(self.host(state_dir), NOBODY, NOBODY)
        os.makedirs(os.path.dirname(self.host(socket_path)), exist_ok=True)
        # What LoadCredential= makes: a private copy of the root-only secret file, readable by
        # the service's user only.
        credentials = os.path.join(self.dir, "credentials")
        os.makedirs(credentials)
        with open(os.path.join(credentials, "client_secret"), "w") as f:
            f.write(CLIENT_SECRET + "\n")
        os.chmod(os.path.join(credentials, "client_secret"), 0o400)
        os.chown(os.path.join(credentials, "client_secret"), NOBODY, NOBODY)
        os.chmod(credentials, 0o500)
        os.chown(credentials, NOBODY, NOBODY)
        self.assertEqual(unit_value(unit, "Service", "UMask"), "0077")
        return unit, config, state_dir, socket_path, credentials

    def as_service_user(self):
        return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                "--no-new-privs"]

    def run_in_sandbox(self, instance=None):
        unit, config, state_dir, socket_path, credentials = self.prepare(instance)
        service_env = {"CREDENTIALS_DIRECTORY": credentials, "PATH": "/usr/bin:/bin"}

        # The documented bootstrap runs `priava-tokend bootstrap --config CONFIG --code -` as the
        # service's user with the credential and the state directory: so does this.
        properties, command = documented_bootstrap(
            os.path.join(UNIT_DIR, SERVICES[1] if instance else SERVICES[0]))
        command = [a.replace("INSTANCE", instance or "") for a in command]
        self.assertEqual(command[:2], [SHIPPED_BINARY, "bootstrap"])
        self.assertEqual(command[2:], ["--config", config, "--code", "-"])
        bootstrap = subprocess.run(
            [*self.as_service_user(), DAEMON_PATH, "bootstrap", "--config", self.host(config),
             "--code", "-"], input=self.fake.code(), capture_output=True, text=True, timeout=60,
            env=service_env, preexec_fn=lambda: os.umask(0o077))
        harness.OBSERVED.extend([(False, bootstrap.stdout), (False, bootstrap.stderr)])
        self.assertEqual(bootstrap.returncode, 0, bootstrap.stderr)
        state = os.stat(self.host(state_dir) + "/state.json")
        self.assertEqual((state.st_uid, state.st_mode & 0o777), (NOBODY, 0o600))

        d = self.daemon(name="sandboxed")
        d.config = self.host(config)
        d.socket = self.host(socket_path)
        d.state = self.host(state_dir) + "/state.json"
        trace = os.path.join(self.dir, "trace")
        d.activate(env={"CREDENTIALS_DIRECTORY": credentials},
                   prefix=["strace", "-f", "-qq", "-o", trace],
                   wrapper=self.as_service_user())

        # A client app: `priava-tokend token`; its connection starts the daemon.
        token = d.cli("token", "--socket", d.socket)
        self.assertEqual(token.returncode, 0, token.stderr + d.logs())
        d.wait_notify("READY=1")
        status = d.cli("status", "--socket", d.socket)
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("valid", status.stdout)
        since = d.mark()
        d.kill(signal.SIGHUP)  # re-reads the config and $CREDENTIALS_DIRECTORY/client_secret
        reload = d.wait_notify("READY=1", 10, since)
        self.assertEqual(reload[0].split("\n")[0], "RELOADING=1")
        self.assertEqual(d.post("/v1/token/refresh")[2]["generation"], 2)  # writes the state
        d.kill(signal.SIGTERM)
        d.wait_notify("STOPPING=1", 10)
        self.assertEqual(d.stop(), 0)
        self.assertTrue(os.path.exists(d.socket))
        self.assertIn("configuration reloaded (client secret from file %s/client_secret)"
                      % credentials, d.logs())

        calls = Trace(trace, DAEMON_PATH)
        outside = sorted(calls.names() - allowed_syscalls(unit))
        self.assertEqual(outside, [], "system calls SystemCallFilter= refuses")
        families = set(unit_value(unit, "Service", "RestrictAddressFamilies").split())
        self.assertLessEqual(calls.socket_families(), families)
        # ProtectSystem=strict: the state directory is the only writable place.
        for path in calls.written_paths():
            self.assertTrue(path.startswith(self.host(state_dir) + "/"),
                            "writes %s outside StateDirectory=" % path)
        # ProcSubset=pid, ProtectProc=invisible, PrivateDevices=yes.
        for path in calls.opened_paths():
            if path.startswith("/proc/"):
                self.assertRegex(path, r"^/proc/(self|thread-self|\d+)(/|$)")
            if path.startswith("/dev/"):
                self.assertIn(path, ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"))
            self.assertFalse(path.startswith(("/home/", "/root/")), path)  # ProtectHome=yes

    def test_the_daemon_fits_the_services_sandbox(self):
        self.run_in_sandbox()

    def test_an_instance_fits_the_templates_sandbox(self):
        self.run_in_sandbox("acme")


# --- the unit files -------------------------------------------------------------------------------

class UnitFiles(unittest.TestCase):
    def setUp(self):
        self.units = {name: read_unit(os.path.join(UNIT_DIR, name)) for name in UNITS}

    def test_systemd_analyze_verify_finds_nothing(self):
        with tempfile.TemporaryDirectory() as directory:
            units_for_binary(directory, DAEMON_PATH)
            paths = [os.path.join(directory, name) for name in UNITS]
            code, output = verify(*paths)
            self.assertEqual((code, output), (0, ""))
            # The templates once more as a named instance, the way they are enabled.
            code, output = verify(
                paths[1] + ":priava-tokend@acme.service", paths[3] + ":priava-tokend@acme.socket")
            self.assertEqual((code, output), (0, ""))

    def test_every_service_has_an_exposure_of_at_most_1_5(self):
        for name in SERVICES:
            level, report = exposure(os.path.join(UNIT_DIR, name))
            print("\n%s: overall exposure %.1f" % (name, level))
            self.assertLessEqual(level, MAX_EXPOSURE, report)

    def test_the_services_are_notify_services_with_watchdog_and_restart_policy(self):
        for name in SERVICES:
            unit = self.units[name]
            self.assertEqual(unit_value(unit, "Service", "Type"), "notify")
            self.assertEqual(unit_value(unit, "Service", "NotifyAccess"), "main")
            self.assertTrue(unit_value(unit, "Service", "WatchdogSec"))
            self.assertEqual(unit_value(unit, "Service", "Restart"), "on-failure")
            self.assertTrue(unit_value(unit, "Service", "RestartSec"))
            self.assertEqual(set(unit_value(unit, "Service", "RestartPreventExitStatus").split()),
                             {"77", "78"})
            self.assertEqual(unit_value(unit, "Service", "DynamicUser"), "yes")
            self.assertEqual(unit_values(unit, "Service", "RuntimeDirectory"), [])

    def test_the_start_timeout_is_finite_and_above_ready_timeout(self):
        # READY=1 comes at the latest after [refresh] ready_timeout (60 s by default).
        for name in SERVICES:
            value = unit_value(self.units[name], "Service", "TimeoutStartSec")
            self.assertRegex(value, r"^\d+s$", name)
            self.assertGreater(int(value[:-1]), 60, name)

    def test_the_template_has_the_same_sandbox_as_the_plain_service(self):
        per_instance = {("Unit", "Description"), ("Unit", "Requires"), ("Unit", "After"),
                        ("Service", "ExecStart"), ("Service", "LoadCredential"),
                        ("Service", "User"), ("Service", "StateDirectory"), ("Install", "Also")}

        def shared(unit):
            return [e for e in unit if (e[0], e[1]) not in per_instance]
        self.assertEqual(shared(self.units[SERVICES[1]]), shared(self.units[SERVICES[0]]))

    def test_paths_match_the_example_config(self):
        with open(EXAMPLE_CONFIG) as f:
            example = f.read()
        service, sock = self.units["priava-tokend.service"], self.units["priava-tokend.socket"]
        listen = unit_value(sock, "Socket", "ListenStream")
        self.assertRegex(example, r'(?m)^socket\s*=\s*"%s"' % re.escape(listen))
        state_dir = "/var/lib/" + unit_value(service, "Service", "StateDirectory")
        self.assertRegex(example, r'(?m)^path\s*=\s*"%s/state.json"' % re.escape(state_dir))
        self.assertEqual(unit_value(service, "Service", "ExecStart"),
                         SHIPPED_BINARY + " run --config /etc/priava-tokend/priava-tokend.toml")
        template = self.units["priava-tokend@.service"]
        self.assertEqual(unit_value(template, "Service", "ExecStart"),
                         SHIPPED_BINARY + " run --config /etc/priava-tokend/%i.toml")
        self.assertEqual(unit_value(template, "Service", "StateDirectory"), "priava-tokend/%i")
        self.assertEqual(unit_value(self.units["priava-tokend@.socket"], "Socket",
                                    "ListenStream"), "/run/priava-tokend/%i.sock")

    def test_the_documented_bootstrap_runs_as_the_services_user_with_its_credential(self):
        for name in SERVICES:
            unit = self.units[name]
            properties, command = documented_bootstrap(os.path.join(UNIT_DIR, name))
            expected = {key: unit_value(unit, "Service", key).replace("%i", "INSTANCE")
                        for key in ("DynamicUser", "User", "StateDirectory", "StateDirectoryMode",
                                    "UMask", "LoadCredential")}
            self.assertEqual(properties, expected)
            exec_start = unit_value(unit, "Service", "ExecStart").replace("%i", "INSTANCE")
            binary, run, option, config = exec_start.split()
            self.assertEqual((run, option), ("run", "--config"))
            self.assertEqual(command, [binary, "bootstrap", "--config", config, "--code", "-"])

    def test_sysusers_creates_the_group_that_owns_the_sockets(self):
        groups = {unit_value(self.units[name], "Socket", "SocketGroup") for name in SOCKETS}
        self.assertEqual(len(groups), 1)
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "etc"))
            result = subprocess.run(
                ["systemd-sysusers", "--root=" + root,
                 os.path.join(UNIT_DIR, "priava-tokend.sysusers")],
                capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
            with open(os.path.join(root, "etc", "group")) as f:
                self.assertEqual([line.split(":")[0] for line in f], sorted(groups))
        for name in SOCKETS:
            self.assertEqual(unit_value(self.units[name], "Socket", "SocketMode"), "0660")


# --- cmake --install ------------------------------------------------------------------------------

class Install(unittest.TestCase):
    def setUp(self):
        self.build = build_dir()
        if self.build is None:
            self.skipTest("no build directory: set PRIAVA_TOKEND_BUILD_DIR")
        self.cache = cmake_cache(self.build)
        self.cmake = self.cache.get("CMAKE_COMMAND", "cmake")
        self._tmp = tempfile.TemporaryDirectory(prefix="priava-tokend-install-")
        self.prefix = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def install(self):
        result = subprocess.run([self.cmake, "--install", self.build, "--prefix", self.prefix],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result.stdout

    def test_install_places_binary_units_sysusers_entry_and_config(self):
        self.install()
        files = {os.path.relpath(os.path.join(d, f), self.prefix)
                 for d, _, names in os.walk(self.prefix) for f in names}
        self.assertEqual(files, {
            "bin/priava-tokend",
            "lib/systemd/system/priava-tokend.service",
            "lib/systemd/system/priava-tokend.socket",
            "lib/systemd/system/priava-tokend@.service",
            "lib/systemd/system/priava-tokend@.socket",
            "lib/sysusers.d/priava-tokend.conf",
            "etc/priava-tokend/priava-tokend.toml",
            "share/doc/priava-tokend/priava-tokend.toml",
            "share/man/man8/priava-tokend.8.gz",
        })
        self.assertTrue(os.access(os.path.join(self.prefix, "bin/priava-tokend"), os.X_OK))
        config = os.path.join(self.prefix, "etc/priava-tokend/priava-tokend.toml")
        self.assertEqual(os.stat(config).st_mode & 0o777, 0o644)  # the dynamic user reads it
        with open(config) as f, open(EXAMPLE_CONFIG) as g:
            self.assertEqual(f.read(), g.read())

        # The installed units name the configured prefix's binary and config directory.
        prefix = self.cache["CMAKE_INSTALL_PREFIX"]
        bindir = self.cache.get("CMAKE_INSTALL_BINDIR", "bin")
        sysconfdir = "/etc" if prefix in ("/usr", "/") else prefix + "/etc"
        binary = bindir if bindir.startswith("/") else prefix.rstrip("/") + "/" + bindir
        binary += "/priava-tokend"
        installed = os.path.join(self.prefix, "lib/systemd/system")
        service = read_unit(os.path.join(installed, "priava-tokend.service"))
        self.assertEqual(unit_value(service, "Service", "ExecStart"),
                         "%s run --config %s/priava-tokend/priava-tokend.toml"
                         % (binary, sysconfdir))
        self.assertEqual(unit_value(service, "Service", "LoadCredential"),
                         "client_secret:%s/priava-tokend/client_secret" % sysconfdir)

        # And, pointed at the installed binary, they pass verify.
        for name in UNITS:
            path = os.path.join(installed, name)
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace(binary, os.path.join(self.prefix, "bin/priava-tokend")))
        code, output = verify(*[os.path.join(installed, name) for name in UNITS])
        self.assertEqual((code, output), (0, ""))

    def test_a_reinstall_keeps_the_operators_config(self):
        self.install()
        config = os.path.join(self.prefix, "etc/priava-tokend/priava-tokend.toml")
        with open(config, "a") as f:
            f.write("# edited\n")
        self.assertIn("Keeping", self.install())
        with open(config) as f:
            self.assertTrue(f.read().endswith("# edited\n"))

    def test_for_the_usr_prefix_the_installed_units_are_the_shipped_files(self):
        with tempfile.TemporaryDirectory(prefix="priava-tokend-configure-") as scratch:
            result = subprocess.run(
                [self.cmake, "-S", SOURCE_DIR, "-B", scratch,
                 "-G", self.cache.get("CMAKE_GENERATOR", "Ninja"),
                 "-DCMAKE_INSTALL_PREFIX=/usr", "-DPRIAVA_TOKEND_TESTS=OFF"],
                capture_output=True, text=True, timeout=300)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            for name in UNITS:
                with open(os.path.join(scratch, "systemd", name)) as f, \
                        open(os.path.join(UNIT_DIR, name)) as g:
                    self.assertEqual(f.read(), g.read(), name)


if __name__ == "__main__":
    unittest.main()
