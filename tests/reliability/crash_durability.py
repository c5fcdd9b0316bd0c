#!/usr/bin/env python3
"""SIGKILL the daemon at random moments while it refreshes 1-second tokens, restart it each time,
and count what a crash can cost.

    crash_durability.py [--kills N] [--seed S] [--kill main|group]
                                         (CI: 200 kills; scripts/crash-test: 2000)

--kill main (the default) kills the daemon's main process only, as a crash, the OOM killer or
`kill -9 $MAINPID` do. A token request process in flight lives on: it holds the state lock and
writes what Priava answered (docs/state-file.md#who-writes-it). After every other kill the daemon
is started again at once and must wait for that lock itself; after the others the test waits for
the lock as a restart would, then reads the file.
--kill group kills the daemon's process group at once, the token request process with it: the
case that can still lose a refresh token, measured here rather than assumed.

Reports:
  lost      refresh tokens lost: after a kill the state file does not hold the refresh token
            the fake considers current (or a restart ends in reauth_required), and the chain had
            to be bootstrapped anew; every reuse the fake saw must be explained by one
  corrupt   state files that failed to parse after a kill
  lock_held kills after which the state lock was still held for a while by the daemon's token
            request processes (the one in flight, storing Priava's answer, or the one started
            ahead, which ends when its stdin closes), and the longest it stayed held
  ready     time from spawn to READY=1 (a usable token held) after a restart
  window    with --kill group: the time per refresh in which a kill loses the refresh token,
            estimated from the losses, the time the daemon ran and the refreshes it made
"""

import argparse
import fcntl
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Daemon, Fake  # noqa: E402

REQUIRED = {"format", "credential", "refresh_token", "access_token", "expires_at",
            "received_at", "generation"}
LOCK_WAIT = 30  # seconds; a token request process lives at most request_timeout (5 s) + 10 s


def check_state(path):
    """True if the state file is complete and well-formed."""
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return False
    return REQUIRED <= set(state) and isinstance(state["refresh_token"], str)


def wait_for_lock(path):
    """Waits, as a restarting daemon does, until nobody holds the state lock; returns how long
    it was still held (0.0: it was free)."""
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return 0.0
        except BlockingIOError:
            pass
    started = time.monotonic()
    # flock(1) blocks in flock(2) until the lock is released, with a timer for the deadline.
    subprocess.run(["flock", "--shared", "--wait", str(LOCK_WAIT), path, "true"], check=True)
    return time.monotonic() - started


def kill(d, mode):
    if mode == "group":
        os.killpg(d.proc.pid, signal.SIGKILL)
    else:
        d.proc.send_signal(signal.SIGKILL)
    d.stop()


def rebootstrap(d):
    again = d.bootstrap(None, "--force")
    if again.returncode != 0:
        raise SystemExit("re-bootstrap failed: " + again.stderr)


def run(kills, seed, max_delay, mode):
    rng = random.Random(seed)
    workdir = tempfile.mkdtemp(prefix="priava-tokend-crash-")
    # One-second tokens refresh about once a second, so 200 kills would run into Priava's 450
    # requests per 5 minutes: that limit is the subject of other tests, not of this one.
    fake = Fake(workdir, expires_in=1, rate_limit=0)
    d = Daemon(workdir, fake, refresh={"serve_margin": "0s", "min_backoff": "100ms",
                                       "max_backoff": "500ms", "request_timeout": "5s"})
    result = d.bootstrap()
    if result.returncode != 0:
        raise SystemExit("bootstrap failed: " + result.stderr)
    lost = corrupt = 0
    ready_times = []
    lock_waits = []
    alive = 0.0
    refreshes_before = fake.stats()["refresh_grants"]
    try:
        for i in range(kills):
            spawned = time.monotonic()
            d.start(wait_ready=False, own_group=mode == "group")
            seen = d.wait_notify(
                lambda line: line == "READY=1" or line.startswith("STATUS=reauth_required"),
                LOCK_WAIT)
            if "READY=1" in seen[-1].split("\n"):
                ready_times.append(time.monotonic() - spawned)
            else:
                # No usable token: the refresh token it restarted with was already consumed.
                lost += 1
                rebootstrap(d)
            # Let it run (and refresh) for a random while, then kill it without warning.
            ran = time.monotonic()
            time.sleep(rng.uniform(0, max_delay))
            alive += time.monotonic() - ran
            kill(d, mode)
            if mode == "main" and i % 2 == 1:
                # Started again at once: the daemon itself waits for the lock, and a lost
                # refresh token shows as reauth_required above.
                continue
            lock_waits.append(wait_for_lock(d.state + ".lock"))
            if not check_state(d.state):
                corrupt += 1
                print("kill %d: state file does not parse" % (i + 1), file=sys.stderr)
                continue
            with open(d.state) as f:
                on_disk = json.load(f)["refresh_token"]
            if on_disk != fake.refresh_token():
                # Killed after Priava rotated and before the new token reached the disk.
                lost += 1
                rebootstrap(d)
            leftovers = [n for n in os.listdir(workdir) if ".tmp-" in n]
            if len(leftovers) > 1:
                print("kill %d: %d temporary files left" % (i + 1, len(leftovers)), file=sys.stderr)
        refreshes = fake.stats()["refresh_grants"] - refreshes_before
        # After the last kill: the chain must still work.
        d.start(wait_ready=False)
        try:
            d.wait_notify("READY=1", LOCK_WAIT)
            final_ok = d.post("/v1/token/refresh")[0] == 200
        except AssertionError:
            final_ok = False
        d.stop()
        stats = fake.stats()
    finally:
        if d.proc is not None:
            d.stop(signal.SIGKILL)
        fake.stop()
    held = [w for w in lock_waits if w > 0]
    report = {
        "kill": mode,
        "kills": kills,
        "refreshes": refreshes,
        "reuse_seen": stats["reuse_attempts"],
        "lost": lost,
        "corrupt": corrupt,
        "final_refresh_ok": final_ok,
        "lock_held": len(held),
        "lock_held_max_ms": round(max(held) * 1000, 1) if held else 0.0,
        "ready_p50_ms": round(statistics.median(ready_times) * 1000, 1) if ready_times else None,
        "ready_p95_ms": round(sorted(ready_times)[int(len(ready_times) * 0.95) - 1] * 1000, 1)
        if ready_times else None,
        "ready_max_ms": round(max(ready_times) * 1000, 1) if ready_times else None,
    }
    if mode == "group" and refreshes:
        # A kill at a uniformly random moment of the run loses the token with the probability
        # window / (time between refreshes).
        report["window_estimate_ms"] = round(lost / kills * alive / refreshes * 1000, 2)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--kill", choices=("main", "group"), default="main",
                        help="the daemon's main process only (default), or its process group")
    parser.add_argument("--max-delay", type=float, default=0.8,
                        help="longest run between start and kill, seconds")
    parser.add_argument("--max-loss-rate", type=float, default=None,
                        help="fail above this rate of lost refresh tokens per kill (default: 0 "
                             "for --kill main, 0.05 for --kill group)")
    args = parser.parse_args()
    max_loss_rate = args.max_loss_rate
    if max_loss_rate is None:
        max_loss_rate = 0.0 if args.kill == "main" else 0.05
    report = run(args.kills, args.seed, args.max_delay, args.kill)
    report["seed"] = args.seed
    print(json.dumps(report, indent=2))
    failures = []
    if report["corrupt"]:
        failures.append("%d state files did not parse" % report["corrupt"])
    if not report["final_refresh_ok"]:
        failures.append("the daemon could not refresh after the last kill")
    if report["lost"] > max_loss_rate * args.kills:
        failures.append("%d refresh tokens lost in %d kills of the %s" % (
            report["lost"], args.kills,
            "daemon's main process" if args.kill == "main" else "daemon's process group"))
    if report["reuse_seen"] > report["lost"]:
        failures.append("the fake saw %d reuses but only %d losses were noticed"
                        % (report["reuse_seen"], report["lost"]))
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
