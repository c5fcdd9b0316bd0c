"""The proxy hop of priava-tokend against nginx's, for bench/run.

Both forward GET /v1/proxy/ping on a Unix socket to the fake Priava's API over HTTPS, with
kept-alive upstream connections and the certificate verified (nginx against the name
localhost, which it checks; the daemon against the address 127.0.0.1): the daemon with its own pool,
nginx (one worker) with `proxy_pass` to an `upstream { keepalive 16; }`, `proxy_ssl_verify on`,
and the token and region set by `proxy_set_header`. Same upstream, same body, same run; the
servers alternate which goes first. A direct run (h2load to the fake over TLS) gives the
latency without a proxy, so each proxy's added latency is its p50 minus the direct p50.
"""

import os
import statistics
import subprocess
import time

import harness

TICK = os.sysconf("SC_CLK_TCK")
CONNECTIONS = 8  # the daemon's default max_concurrent


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += sum(int(v) for v in fields[11:15])
    return total / TICK


def h2load(target, url, requests, log_file, headers=(), pids=()):
    """h2load --h1 against `target` (a Unix socket path, or None for the URL itself)."""
    cmd = ["h2load", "--h1", "-c", str(CONNECTIONS), "-n", str(requests), "--log-file=" + log_file]
    if target:
        cmd += ["-B", "unix:" + target]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    before = cpu_seconds(pids)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    cpu = cpu_seconds(pids) - before
    durations = []
    with open(log_file) as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) >= 3 and cols[1] == "200":
                durations.append(int(cols[2]))
    os.unlink(log_file)
    if len(durations) != requests:
        raise RuntimeError("%d of %d requests answered 200:\n%s" % (len(durations), requests, out))
    return {"cpu_us": cpu / requests * 1e6, "p50_ms": statistics.median(durations) / 1000.0}


class ProxiedDaemon:
    name = "daemon"

    def __init__(self, workdir):
        self.fake = harness.Fake(workdir, expires_in=6 * 3600, rate_limit=0)
        # The budget out of the way: this measures the hop, not the queue.
        self.d = harness.Daemon(workdir, self.fake, name="proxied",
                                proxy={"enabled": True, "budget": 100000, "window": "1s",
                                       "max_queued": 100000})
        result = self.d.bootstrap()
        if result.returncode != 0:
            raise RuntimeError("bootstrap failed: " + result.stderr)
        self.d.start()
        self.socket = self.d.socket

    def pids(self):
        return [self.d.proc.pid]

    def stop(self):
        self.d.stop()
        self.fake.stop()


class NginxProxy:
    name = "nginx"

    def __init__(self, workdir, port, ca_file, token):
        self.dir = os.path.join(workdir, "nginx-proxy")
        os.makedirs(self.dir)
        self.socket = os.path.join(self.dir, "nginx.sock")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""
daemon off;
master_process on;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000000;
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    upstream priava {
        server 127.0.0.1:%(port)d;
        keepalive 16;
        keepalive_requests 1000000000;
    }
    server {
        listen unix:%(sock)s;
        location /v1/proxy/ {
            proxy_pass https://priava/api/rest/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host 127.0.0.1:%(port)d;
            proxy_set_header Authorization "Bearer %(token)s";
            proxy_set_header TenantRegion APAC;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %(ca)s;
            proxy_ssl_name localhost;  # nginx checks names only; the certificate has both
            proxy_ssl_session_reuse on;
        }
    }
}
""" % {"dir": self.dir, "sock": self.socket, "port": port, "ca": ca_file, "token": token})
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir, "-e",
                                      os.path.join(self.dir, "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                with open(os.path.join(self.dir, "error.log")) as f:
                    raise RuntimeError("nginx did not proxy: " + f.read()[-2000:])
            time.sleep(0.05)  # polling a starting server, with a deadline

    def _answers(self):
        try:
            return harness.request(self.socket, "GET", "/v1/proxy/ping", record=False)[0] == 200
        except OSError:
            return False

    def pids(self):
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            return [self.proc.pid] + [int(p) for p in f.read().split()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def proxy_comparison(workdir, rounds, requests):
    """The table rows (label, daemon, nginx, ratio) of the proxy comparison."""
    workdir = os.path.join(workdir, "proxy")
    os.makedirs(workdir)
    daemon = nginx = None
    try:
        daemon = ProxiedDaemon(workdir)
        token = daemon.d.token()["access_token"]
        port = daemon.fake.stats()["port"]
        nginx = NginxProxy(workdir, port, daemon.fake.ca_file, token)
        body = harness.request(daemon.socket, "GET", "/v1/proxy/ping", record=False)[2]
        if harness.request(nginx.socket, "GET", "/v1/proxy/ping", record=False)[2] != body:
            raise RuntimeError("nginx and the daemon do not answer the same body")
        direct_url = "https://127.0.0.1:%d/api/rest/ping" % port
        direct_headers = ("Authorization: Bearer " + token, "TenantRegion: APAC")
        log = os.path.join(workdir, "h2load.log")
        servers = [daemon, nginx]
        for s in servers:  # warm-up: connections made, pages faulted in
            h2load(s.socket, "http://localhost/v1/proxy/ping", requests // 4, log)
        per = {s.name: {"cpu": [], "added": []} for s in servers}
        for r in range(rounds):
            for s in (servers if r % 2 == 0 else servers[::-1]):
                direct = h2load(None, direct_url, requests, log, direct_headers)
                proxied = h2load(s.socket, "http://localhost/v1/proxy/ping", requests, log,
                                 pids=s.pids())
                per[s.name]["cpu"].append(proxied["cpu_us"])
                per[s.name]["added"].append(proxied["p50_ms"] - direct["p50_ms"])
                print("proxy round %d %-6s %.2f µs CPU/req, p50 %.3f ms (direct %.3f ms)" % (
                    r + 1, s.name, proxied["cpu_us"], proxied["p50_ms"], direct["p50_ms"]),
                    flush=True)
        pool = daemon.d.status()["proxy"]["upstream_connections"]
    finally:
        for s in (nginx, daemon):
            if s:
                s.stop()
    d, n = per["daemon"], per["nginx"]
    cpu_ratio = statistics.median(a / b for a, b in zip(d["cpu"], n["cpu"]) if b)
    return [
        ("proxy: server CPU µs per proxied request (%d connections, HTTPS keep-alive upstream)"
         % CONNECTIONS, statistics.median(d["cpu"]), statistics.median(n["cpu"]),
         "%.2f" % cpu_ratio, "%.2f"),
        ("proxy: added latency at p50 (proxied minus direct), ms", statistics.median(d["added"]),
         statistics.median(n["added"]), "%.2f" % (
             statistics.median(d["added"]) / statistics.median(n["added"])
             if statistics.median(n["added"]) > 0 else float("nan")), "%.3f"),
    ], pool
