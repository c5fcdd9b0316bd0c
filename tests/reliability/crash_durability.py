#!/usr/bin/env python3
"""SIGKILL the daemon at random moments while it refreshes 1-second tokens, restart it each time,
and count what a crash can cost.

    crash_durability.py [--kills N] [--seed S]        (CI: 200 kills; scripts/crash-test: more)

Reports:
  lost      refresh tokens lost: after a kill the state file does not hold the refresh token
            the fake considers current (or a restart ends in reauth_required), and the chain had
            to be bootstrapped anew; every reuse the fake saw must be explained by one
  corrupt   state files that failed to parse after a kill
  ready     time from spawn to READY=1 (a usable token held) after a restart
The one loss no client can prevent: Priava rotated the refresh token and the daemon died before
the new one reached the disk. Its rate is what this measures.
"""

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Daemon, Fake  # noqa: E402

REQUIRED = {"format", "credential", "refresh_token", "access_token", "expires_at",
            "received_at", "generation"}


def check_state(path):
    """True if the state file is complete and well-formed."""
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return False
    return REQUIRED <= set(state) and isinstance(state["refresh_token"], str)


def run(kills, seed, max_delay):
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
    refreshes_before = fake.stats()["refresh_grants"]
    try:
        for i in range(kills):
            spawned = time.monotonic()
            d.start(wait_ready=False)
            seen = d.wait_notify(
                lambda line: line == "READY=1" or line.startswith("STATUS=reauth_required"), 15)
            if "READY=1" in seen[-1].split("\n"):
                ready_times.append(time.monotonic() - spawned)
            else:
                # No usable token: the refresh token it restarted with was already consumed.
                lost += 1
                again = d.bootstrap(None, "--force")
                if again.returncode != 0:
                    raise SystemExit("re-bootstrap failed: " + again.stderr)
            # Let it run (and refresh) for a random while, then kill it without warning.
            time.sleep(rng.uniform(0, max_delay))
            d.proc.send_signal(signal.SIGKILL)
            d.stop()
            if not check_state(d.state):
                corrupt += 1
                print("kill %d: state file does not parse" % (i + 1), file=sys.stderr)
                continue
            with open(d.state) as f:
                on_disk = json.load(f)["refresh_token"]
            if on_disk != fake.refresh_token():
                # Killed after Priava rotated and before the new token reached the disk.
                lost += 1
                again = d.bootstrap(None, "--force")
                if again.returncode != 0:
                    raise SystemExit("re-bootstrap failed: " + again.stderr)
            leftovers = [n for n in os.listdir(workdir) if ".tmp-" in n]
            if len(leftovers) > 1:
                print("kill %d: %d temporary files left" % (i + 1, len(leftovers)), file=sys.stderr)
        # After the last kill: the chain must still work.
        d.start(wait_ready=False)
        try:
            d.wait_notify("READY=1", 15)
            final_ok = d.post("/v1/token/refresh")[0] == 200
        except AssertionError:
            final_ok = False
        d.stop()
        stats = fake.stats()
    finally:
        if d.proc is not None:
            d.stop(signal.SIGKILL)
        fake.stop()
    return {
        "kills": kills,
        "refreshes": stats["refresh_grants"] - refreshes_before,
        "reuse_seen": stats["reuse_attempts"],
        "lost": lost,
        "corrupt": corrupt,
        "final_refresh_ok": final_ok,
        "ready_p50_ms": round(statistics.median(ready_times) * 1000, 1) if ready_times else None,
        "ready_p95_ms": round(sorted(ready_times)[int(len(ready_times) * 0.95) - 1] * 1000, 1)
        if ready_times else None,
        "ready_max_ms": round(max(ready_times) * 1000, 1) if ready_times else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-delay", type=float, default=0.8,
                        help="longest run between start and kill, seconds")
    parser.add_argument("--max-loss-rate", type=float, default=0.05,
                        help="fail above this rate of lost refresh tokens per kill")
    args = parser.parse_args()
    report = run(args.kills, args.seed, args.max_delay)
    report["seed"] = args.seed
    print(json.dumps(report, indent=2))
    failures = []
    if report["corrupt"]:
        failures.append("%d state files did not parse" % report["corrupt"])
    if not report["final_refresh_ok"]:
        failures.append("the daemon could not refresh after the last kill")
    if report["lost"] > args.max_loss_rate * args.kills:
        failures.append("%d refresh tokens lost in %d kills: more than the rotation window "
                        "explains" % (report["lost"], args.kills))
    if report["reuse_seen"] > report["lost"]:
        failures.append("the fake saw %d reuses but only %d losses were noticed"
                        % (report["reuse_seen"], report["lost"]))
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
