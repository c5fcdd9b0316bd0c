"""Cluster mode for bench/run: a follower's /v1/token against a single daemon's, and failover.

A follower holds the token in memory and never reads etcd per request, so it should serve at
the same CPU per request as a daemon outside a cluster. Both are driven by h2load (keep-alive,
32 connections) in the same run, alternating which goes first; the figure is the median of the
rounds' ratios. Failover (leader SIGKILLed -> a new leader; -> the first token it fetched) comes
from tests/reliability/cluster_failover.py, run for 50 kills.
"""

import base64
import os
import statistics
import subprocess
import sys

import harness
from proxy_bench import cpu_seconds
from etcd_cluster import EtcdCluster

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_per_request(daemon, requests, log_dir):
    before = cpu_seconds([daemon.proc.pid])
    out = subprocess.run(["h2load", "--h1", "-c", "32", "-n", str(requests), "-B",
                          "unix:" + daemon.socket, "http://localhost/v1/token"],
                         capture_output=True, text=True, timeout=600).stdout
    used = cpu_seconds([daemon.proc.pid]) - before
    if "%d succeeded" % requests not in out:
        raise RuntimeError("h2load against %s:\n%s" % (daemon.name, out))
    return used / requests * 1e6


def follower_comparison(workdir, rounds, requests):
    """Rows (label, follower, single, ratio, format) for the results table."""
    os.makedirs(workdir, exist_ok=True)
    fake = harness.Fake(workdir, expires_in=6 * 3600, rate_limit=0)
    etcd = EtcdCluster(os.path.join(workdir, "etcd"), size=3)
    key = os.path.join(workdir, "cluster.key")
    with open(key, "wb") as f:
        f.write(base64.b64encode(os.urandom(32)) + b"\n")
    os.chmod(key, 0o600)
    daemons = []
    try:
        single = harness.Daemon(workdir, fake, name="single",
                                state_path=os.path.join(workdir, "single.json"))
        daemons.append(single)
        if single.bootstrap().returncode != 0:
            raise RuntimeError("bootstrap of the single daemon failed")
        single.start()
        nodes = []
        for name in ("n1", "n2"):
            d = harness.Daemon(workdir, fake, name=name,
                               state_path=os.path.join(workdir, name + ".json"),
                               cluster={"etcd_endpoints": etcd.endpoints, "name": "bench",
                                        "node": name, "lease_ttl": "10s",
                                        "encryption_key_file": key})
            nodes.append(d)
            daemons.append(d)
        if nodes[0].bootstrap().returncode != 0:
            raise RuntimeError("bootstrap of the cluster failed")
        nodes[0].start()
        nodes[1].start()
        # n1 bootstrapped the cluster and leads it; n2 follows.
        follower = nodes[1]
        follower.wait_status(lambda s: s["cluster"]["role"] == "follower", 10)
        for d in (single, follower):
            cpu_per_request(d, requests // 4, workdir)  # warm-up
        ratios, f_cpu, s_cpu = [], [], []
        for r in range(rounds):
            order = [follower, single] if r % 2 == 0 else [single, follower]
            got = {d.name: cpu_per_request(d, requests, workdir) for d in order}
            f_cpu.append(got[follower.name])
            s_cpu.append(got[single.name])
            ratios.append(got[follower.name] / got[single.name])
            print("round %d follower %.2f µs/req, single daemon %.2f µs/req" % (
                r + 1, f_cpu[-1], s_cpu[-1]), flush=True)
    finally:
        for d in daemons:
            try:
                d.stop()
            except Exception:
                pass
        etcd.close()
        fake.stop()
    return [("cluster follower: server CPU µs per /v1/token, keep-alive, 32 connections "
             "(against a single daemon)", statistics.median(f_cpu), statistics.median(s_cpu),
             "%.2f" % statistics.median(ratios), "%.2f")]


def failover(kills):
    """The failover lines of tests/reliability/cluster_failover.py for `kills` kills."""
    script = os.path.join(ROOT, "tests", "reliability", "cluster_failover.py")
    out = subprocess.run([sys.executable, "-B", script, "--kills", str(kills), "--seed", "1"],
                         capture_output=True, text=True, timeout=3600)
    return [line for line in out.stdout.splitlines() if line.strip()]
