"""Cluster mode (SPEC §9, docs/cluster.md): three daemons share one credential through a real
three-member etcd; the fake Priava counts every use of every refresh token it issued."""

import base64
import json
import os
import signal
import threading
import time
import unittest

from etcd_cluster import EtcdCluster
from harness import E2ETestCase, request

LEASE = "2s"

def wait_for(predicate, seconds, what):
    """Polls `predicate` until it returns something true; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (seconds, what))
        time.sleep(0.05)

class ClusterTestCase(E2ETestCase):
    fake_expires_in = 4
    etcd_size = 3
    etcd_tls = False

    def setUp(self):
        super().setUp()
        tls = None
        if self.etcd_tls:  # the fake Priava's server certificate is for 127.0.0.1 as well
            tls = {name: os.path.join(self.fake.dir, file) for name, file in
                   (("cert", "server.pem"), ("key", "server.key"), ("ca", "ca.pem"))}
        self.etcd = EtcdCluster(os.path.join(self.dir, "etcd"), size=self.etcd_size, tls=tls)
        self.addCleanup(self.etcd.close)
        self.key_file = os.path.join(self.dir, "cluster.key")
        with open(self.key_file, "wb") as f:
            f.write(base64.b64encode(os.urandom(32)) + b"\n")
        os.chmod(self.key_file, 0o600)

    def tearDown(self):
        if os.environ.get("CLUSTER_TEST_LOGS"):
            for d in self.daemons:
                if os.path.exists(d.log_path):
                    print("--- %s\n%s" % (d.name, d.logs()[-6000:]))
        super().tearDown()

    def node(self, name, key_file=None, start=True, cluster_extra=None, **overrides):
        cluster = {"etcd_endpoints": self.etcd.endpoints, "name": "test", "node": name,
                   "lease_ttl": LEASE, "encryption_key_file": key_file or self.key_file}
        cluster.update(cluster_extra or {})
        d = self.daemon(name=name, state_path=os.path.join(self.dir, name + ".state.json"),
                        cluster=cluster, **overrides)
        if start:
            d.start(wait_ready=False)
        return d

    def three_nodes(self):
        """n1 bootstrapped (it brings the credential to etcd), then n2 and n3 join."""
        first = self.node("n1", start=False)
        result = first.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        first.start()
        nodes = [first, self.node("n2"), self.node("n3")]
        for d in nodes:
            wait_for(lambda d=d: self.serving(d), 20, d.name + " serving")
        return nodes

    @staticmethod
    def serving(d):
        try:
            return d.token()
        except Exception:
            return None

    @staticmethod
    def cluster_of(d):
        try:
            return d.status()["cluster"]
        except Exception:
            return None

    def leader(self, nodes):
        leaders = [d for d in nodes if d.proc and d.proc.poll() is None and
                   (self.cluster_of(d) or {}).get("role") == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def just_refreshed(self, leader):
        """Returns once `leader` served a new generation: its next token request is most of a
        lifetime away, so a kill or a pause now lands outside the intent-to-commit window (where
        the design can lose the chain, which tests/reliability/cluster_failover.py counts)."""
        now = self.serving(leader)["generation"]
        status, _, body = leader.get("/v1/token?newer_than=%d&wait=20" % now, timeout=30)
        self.assertEqual(status, 200, body)
        self.assertGreater(body["generation"], now)

    def assert_each_refresh_token_used_once(self):
        stats = self.fake.stats()
        self.assertEqual(stats["reuse_attempts"], 0, stats)

class SharedCredential(ClusterTestCase):
    def test_every_node_serves_the_same_token_and_no_refresh_token_is_used_twice(self):
        nodes = self.three_nodes()
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        wait_for(lambda: all((self.cluster_of(d) or {}).get("leader") == leader.name
                             for d in nodes), 10, "every node to know the leader")
        for d in nodes:
            c = self.cluster_of(d)
            self.assertEqual(c["etcd"], "ok")
            self.assertEqual(c["leader"], leader.name)
            self.assertEqual(c["role"], "leader" if d is leader else "follower")
        # Tokens live 4 s: several refreshes, each reaching every node.
        wait_for(lambda: all((self.serving(d) or {}).get("generation", 0) >= 5 for d in nodes),
                 40, "generation 5 everywhere")
        def same_token():
            answers = [self.serving(d) for d in nodes]
            return all(answers) and len({(a["generation"], a["access_token"])
                                         for a in answers}) == 1
        wait_for(same_token, 10, "the same token on every node")
        self.assert_each_refresh_token_used_once()
        self.assertGreaterEqual(self.fake.stats()["refresh_grants"], 4)
        metrics = request(leader.socket, "GET", "/metrics")[2].decode()
        self.assertIn("priava_tokend_cluster_leader 1", metrics)
        self.assertIn("priava_tokend_cluster_etcd_up 1", metrics)
        follower = next(d for d in nodes if d is not leader)
        self.assertIn("priava_tokend_cluster_leader 0",
                      request(follower.socket, "GET", "/metrics")[2].decode())
        # etcd's data alone reveals no token.
        stored = self.etcd.get("/priava-tokend/test/state")
        self.assertNotIn(self.fake.refresh_token(), stored)
        self.assertNotIn(self.serving(leader)["access_token"], stored)

    def test_a_follower_long_poll_gets_the_leaders_next_generation(self):
        nodes = self.three_nodes()
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        follower = next(d for d in nodes if d is not leader)
        now = self.serving(follower)["generation"]
        status, _, body = follower.get("/v1/token?newer_than=%d&wait=15" % now, timeout=20)
        self.assertEqual(status, 200, body)
        self.assertGreater(body["generation"], now)

    def test_a_forced_refresh_on_a_follower_is_done_by_the_leader(self):
        self.fake.set_expires_in(3600)
        nodes = self.three_nodes()
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        follower = next(d for d in nodes if d is not leader)
        before = self.fake.stats()["refresh_grants"]
        now = self.serving(follower)["generation"]
        status, _, body = follower.post("/v1/token/refresh", timeout=20)
        self.assertEqual(status, 200, body)
        self.assertGreater(body["generation"], now)
        self.assertEqual(self.fake.stats()["refresh_grants"], before + 1)
        self.assert_each_refresh_token_used_once()

class Failover(ClusterTestCase):
    def test_a_killed_leader_is_replaced_within_the_lease(self):
        nodes = self.three_nodes()
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        self.just_refreshed(leader)
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait()
        killed = time.monotonic()
        rest = [d for d in nodes if d is not leader]
        successor = wait_for(lambda: self.leader(rest), 2 + 2 + 1, "a new leader")
        self.assertLessEqual(time.monotonic() - killed, 2 + 2 + 1)
        generation = self.fake.stats()["refresh_grants"]
        wait_for(lambda: self.fake.stats()["refresh_grants"] > generation, 20,
                 "a refresh by the new leader")
        for d in rest:
            wait_for(lambda d=d: self.serving(d), 10, d.name + " serving")
        self.assert_each_refresh_token_used_once()

    def test_a_paused_leader_neither_refreshes_nor_commits_after_it_resumes(self):
        nodes = self.three_nodes()
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        self.just_refreshed(leader)
        leader.proc.send_signal(signal.SIGSTOP)
        try:
            rest = [d for d in nodes if d is not leader]
            successor = wait_for(lambda: self.leader(rest), 6, "a new leader")
            # Past the paused node's own refresh time: its timer is due when it wakes.
            grants = self.fake.stats()["refresh_grants"]
            wait_for(lambda: self.fake.stats()["refresh_grants"] >= grants + 2, 20,
                     "two refreshes by the new leader")
        finally:
            mark = len(leader.logs())  # it says nothing while stopped
            leader.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: (self.cluster_of(leader) or {}).get("role") == "follower", 10,
                 "the resumed node to follow")
        wait_for(lambda: (self.serving(leader) or {}).get("generation", 0) >=
                 (self.serving(successor) or {}).get("generation", 1 << 60), 10,
                 "the resumed node to catch up")
        said = leader.logs()[mark:]
        self.assertNotIn("token refreshed", said)
        self.assert_each_refresh_token_used_once()

    def test_a_dead_etcd_member_is_left_for_the_next_endpoint(self):
        nodes = self.three_nodes()
        wait_for(lambda: self.leader(nodes), 10, "one leader")
        self.etcd.kill(0)  # the first endpoint every node talks to
        grants = self.fake.stats()["refresh_grants"]
        wait_for(lambda: self.fake.stats()["refresh_grants"] >= grants + 2, 20,
                 "two refreshes through the other members")
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        wait_for(lambda: all((self.cluster_of(d) or {}).get("etcd") == "ok" and
                             (self.serving(d) or {}).get("generation", 0) >=
                             self.serving(leader)["generation"] for d in nodes), 10,
                 "every node on the new generation")
        self.assert_each_refresh_token_used_once()

class EtcdWithoutQuorum(ClusterTestCase):
    fake_expires_in = 10  # the held token outlives noticing that etcd went away

    def test_etcd_without_quorum_stops_refreshing_and_both_resume(self):
        nodes = self.three_nodes()
        self.just_refreshed(wait_for(lambda: self.leader(nodes), 10, "one leader"))
        self.etcd.kill(1)
        self.etcd.kill(2)
        wait_for(lambda: all((self.cluster_of(d) or {}).get("etcd") == "unreachable"
                             for d in nodes), 15, "every node to see etcd unreachable")
        grants = self.fake.stats()["refresh_grants"]
        served = [self.serving(d) for d in nodes]
        self.assertTrue(all(served), "nodes keep serving the held token")
        # No node refreshes while etcd has no quorum: a token lifetime passes without a grant.
        deadline = time.monotonic() + self.fake_expires_in
        while time.monotonic() < deadline:
            self.assertEqual(self.fake.stats()["refresh_grants"], grants)
            time.sleep(0.2)
        for d in nodes:
            self.assertEqual(self.cluster_of(d)["role"] != "leader", True)
        self.etcd.start(1)
        self.etcd.start(2)
        wait_for(lambda: all((self.cluster_of(d) or {}).get("etcd") == "ok" for d in nodes), 20,
                 "etcd ok again everywhere")
        wait_for(lambda: self.leader(nodes), 10, "a leader again")
        wait_for(lambda: all((self.serving(d) or {}).get("generation", 0) > served[0]["generation"]
                             for d in nodes), 30, "refreshing again")
        self.assert_each_refresh_token_used_once()

class Bootstrap(ClusterTestCase):
    fake_expires_in = 3600

    def test_a_new_code_on_a_node_without_daemon_replaces_the_chain_everywhere(self):
        nodes = self.three_nodes()
        before = self.serving(nodes[0])["generation"]
        spare = self.node("n4", start=False)
        refused = spare.bootstrap()
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("already holds this credential", refused.stderr)
        result = spare.bootstrap(None, "--force")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("committed to the cluster 'test'", result.stdout)
        for d in nodes:
            wait_for(lambda d=d: (self.serving(d) or {}).get("generation", 0) == before + 1, 10,
                     d.name + " to take the new chain")
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        status, _, body = leader.post("/v1/token/refresh", timeout=20)
        self.assertEqual(status, 200, body)
        self.assert_each_refresh_token_used_once()

    def test_bootstrap_on_a_follower_reaches_every_node(self):
        nodes = self.three_nodes()
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        wait_for(lambda: all((self.cluster_of(d) or {}).get("leader") for d in nodes), 10,
                 "every node to know the leader")
        follower = next(d for d in nodes if d is not leader)
        before = self.serving(follower)["generation"]
        result = follower.bootstrap(None, "--force")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("committed to the cluster 'test'", result.stdout)
        for d in nodes:
            wait_for(lambda d=d: (self.serving(d) or {}).get("generation", 0) == before + 1, 10,
                     d.name + " to take the new chain")
        status, _, body = leader.post("/v1/token/refresh", timeout=20)
        self.assertEqual(status, 200, body)
        self.assert_each_refresh_token_used_once()

    def test_a_refresh_token_priava_rejects_is_reported_by_every_node(self):
        nodes = self.three_nodes()
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        self.fake.revoke()
        leader.post("/v1/token/refresh", timeout=20)
        for d in nodes:
            d.wait_status(lambda s: s["state"] == "reauth_required", 15)
        follower = next(d for d in nodes if d is not leader)
        self.assertIn("rejected", follower.status()["last_error"]["error_description"])
        self.assertEqual(json.loads(self.etcd.get("/priava-tokend/test/state"))["phase"],
                         "rejected")
        result = follower.bootstrap()  # no --force: the chain is dead
        self.assertEqual(result.returncode, 0, result.stderr)
        for d in nodes:
            d.wait_status(lambda s: s["state"] == "valid", 10)
        self.assert_each_refresh_token_used_once()

    def test_a_refused_code_leaves_the_clusters_chain_as_it_was(self):
        nodes = self.three_nodes()
        spare = self.node("n4", start=False)
        result = spare.bootstrap("not-a-code-priava-issued", "--force")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Priava rejected the authorization code", result.stderr)
        envelope = json.loads(self.etcd.get("/priava-tokend/test/state"))
        self.assertEqual(envelope["phase"], "ready")
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        # The spare's fenced attempt and its abandoned intent moved the state key's revision;
        # the leader learns of it from its watch. A refresh asked before that is refused
        # without a token request ("the cluster's state moved"), and the next one goes through.
        answers = []

        def refreshed():
            answers.append(leader.post("/v1/token/refresh", timeout=20))
            status, _, body = answers[-1]
            return status == 200 or not (status == 503 and "state moved" in str(body))

        wait_for(refreshed, 10, "a refresh once the leader has seen the state")
        status, _, body = answers[-1]
        self.assertEqual(status, 200, body)
        self.assert_each_refresh_token_used_once()

    def test_a_dead_nodes_intent_becomes_chain_lost_and_a_new_code_recovers(self):
        first = self.node("n1", start=False)
        result = first.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        # n1 leads, and dies as soon as its intent for the next refresh is in etcd: whether its
        # refresh token reached Priava, nobody can know.
        first.start(env={"PRIAVA_TOKEND_TEST_EXIT_AFTER_INTENT": "1"})
        wait_for(lambda: (self.cluster_of(first) or {}).get("role") == "leader", 10, "n1 leads")
        nodes = [self.node("n2"), self.node("n3")]
        for d in nodes:
            wait_for(lambda d=d: self.serving(d), 20, d.name + " serving")
        try:
            first.post("/v1/token/refresh", timeout=5)
        except Exception:
            pass  # it ended mid-answer
        self.assertEqual(first.proc.wait(timeout=10), 1)
        self.assertEqual(json.loads(self.etcd.get("/priava-tokend/test/state"))["phase"],
                         "refreshing")
        for d in nodes:
            d.wait_status(lambda s: s["state"] == "reauth_required", 20)
            self.assertEqual(d.status()["last_error"]["error"], "chain_lost")
            self.assertIn("node n1", d.status()["last_error"]["error_description"])
        # On a follower: it sees reauth_required, so no --force is needed.
        leader = wait_for(lambda: self.leader(nodes), 10, "one leader")
        follower = next(d for d in nodes if d is not leader)
        result = follower.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        for d in nodes:
            d.wait_status(lambda s: s["state"] == "valid", 10)
        self.assert_each_refresh_token_used_once()

class ClusterProxy(ClusterTestCase):
    """With the proxy on, the budget and a 429's pause are the cluster's, drawn through etcd."""
    fake_expires_in = 3600

    def proxied_nodes(self, **proxy):
        section = {"enabled": True}
        section.update(proxy)
        first = self.node("n1", start=False, proxy=section)
        result = first.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        first.start()
        second = self.node("n2", proxy=section)
        for d in (first, second):
            wait_for(lambda d=d: self.serving(d), 20, d.name + " serving")
        return first, second

    def call(self, d, path):
        return request(d.socket, "GET", "/v1/proxy/" + path, timeout=60)

    def test_two_nodes_together_never_send_more_than_the_budget(self):
        nodes = self.proxied_nodes(budget=5, window="60s", max_queue_wait="0s")
        sent_before = self.fake.stats()["api_requests"]
        answers = [self.call(nodes[i % 2], "ping") for i in range(7)]
        self.assertEqual([a[0] for a in answers], [200] * 5 + [429] * 2)
        refused = json.loads(answers[5][2])
        self.assertEqual(refused["error"], "budget_exhausted")
        self.assertGreaterEqual(int(answers[5][1]["retry-after"]), 1)
        self.assertEqual(self.fake.stats()["api_requests"], sent_before + 5)
        self.assert_each_refresh_token_used_once()

    def test_a_429_seen_by_one_node_pauses_the_other(self):
        first, second = self.proxied_nodes(window="10s", max_queue_wait="20s")
        self.assertEqual(self.call(first, "ping")[0], 200)
        at = time.time() + 4
        self.fake.answer_api_429s([time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))])
        paused = {}
        t = threading.Thread(target=lambda: paused.update(answer=self.call(first, "events")))
        t.start()
        try:
            wait_for(lambda: first.status()["proxy"]["paused_until"] is not None, 10,
                     "n1 paused by Priava's 429")
            sent = self.fake.stats()["api_requests"]
            asked = time.time()
            status, headers, _ = self.call(second, "ping")
        finally:
            t.join()
        self.assertEqual(status, 200)
        self.assertEqual(paused["answer"][0], 200)
        # n2 sent nothing until n1's pause ended, though its own budget had room.
        self.assertGreaterEqual(time.time(), int(at) - 0.2)
        self.assertGreaterEqual(int(headers["priava-tokend-queue-ms"]),
                                (int(at) - asked) * 1000 - 300)
        self.assertEqual(self.fake.stats()["api_requests"], sent + 2)

class EtcdAuthentication(ClusterTestCase):
    """etcd with authentication on: the daemon signs in with cluster.username/password_file."""
    fake_expires_in = 4

    def enable_auth(self):
        b64 = lambda text: base64.b64encode(text.encode()).decode()
        call = self.etcd.call
        call("/v3/auth/role/add", {"name": "root"})
        call("/v3/auth/user/add", {"name": "root", "password": "root-pw"})
        call("/v3/auth/user/grant", {"user": "root", "role": "root"})
        call("/v3/auth/role/add", {"name": "tokend"})
        call("/v3/auth/role/grant", {"name": "tokend", "perm": {
            "key": b64("/priava-tokend/"), "range_end": b64("/priava-tokend0"),
            "permType": "READWRITE"}})
        call("/v3/auth/user/add", {"name": "tokend", "password": "Zx81Qw93Lp02"})
        call("/v3/auth/user/grant", {"user": "tokend", "role": "tokend"})
        call("/v3/auth/enable", {})

    def password_file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
        self.extra_secrets.append(text)
        return path

    def test_nodes_sign_in_and_a_wrong_password_is_named(self):
        self.enable_auth()
        good = self.password_file("etcd-password", "Zx81Qw93Lp02")
        first = self.node("n1", start=False,
                          cluster_extra={"username": "tokend", "password_file": good})
        result = first.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        first.start()
        wait_for(lambda: (self.cluster_of(first) or {}).get("role") == "leader", 10, "n1 leads")
        grants = self.fake.stats()["refresh_grants"]
        wait_for(lambda: self.fake.stats()["refresh_grants"] > grants, 10, "a refresh")
        bad = self.password_file("wrong-password", "Vb27Nm64Kd55")
        wrong = self.node("n2", start=False,
                          cluster_extra={"username": "tokend", "password_file": bad})
        wrong.start(wait_ready=False)
        wait_for(lambda: "authentication failed" in wrong.logs(), 15, "n2 to name the refusal")
        self.assertEqual((self.cluster_of(wrong) or {}).get("etcd"), "unreachable")

class EtcdOverTls(ClusterTestCase):
    etcd_size = 1
    etcd_tls = True

    def test_nodes_reach_etcd_over_https_and_check_its_certificate(self):
        self.assertTrue(self.etcd.endpoints[0].startswith("https://127.0.0.1:"))
        ca = os.path.join(self.fake.dir, "ca.pem")
        first = self.node("n1", start=False, cluster_extra={"ca_file": ca})
        result = first.bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        first.start()
        second = self.node("n2", cluster_extra={"ca_file": ca})
        wait_for(lambda: (self.cluster_of(first) or {}).get("role") == "leader", 10, "n1 leads")
        generation = self.serving(first)["generation"]
        wait_for(lambda: (self.serving(second) or {}).get("generation", 0) > generation, 15,
                 "n2 to take a newer generation over TLS")
        # Without the CA, the certificate is not trusted: etcd is unreachable, and says why.
        stranger = self.node("n3", start=False)
        result = stranger.cli("check-config", "--config", stranger.config)
        self.assertEqual(result.returncode, 78)
        self.assertIn("cluster.etcd_endpoints", result.stderr)
        self.assertIn("certificate not trusted", result.stderr)
        self.assert_each_refresh_token_used_once()

class EncryptionKey(ClusterTestCase):
    def test_check_config_reads_the_shared_state_with_the_key(self):
        self.three_nodes()
        good = self.node("n5", start=False)
        result = good.cli("check-config", "--config", good.config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"cluster +'test' on etcd \(3 endpoints\): generation \d+")
        other = os.path.join(self.dir, "other.key")
        with open(other, "wb") as f:
            f.write(base64.b64encode(os.urandom(32)) + b"\n")
        os.chmod(other, 0o600)
        bad = self.node("n6", key_file=other, start=False)
        result = bad.cli("check-config", "--config", bad.config)
        self.assertEqual(result.returncode, 78)
        self.assertIn("cluster.encryption_key_file", result.stderr)
        self.assertIn("does not decrypt", result.stderr)

    def test_a_node_with_another_key_refuses_to_serve_and_says_why(self):
        self.three_nodes()
        other = os.path.join(self.dir, "other.key")
        with open(other, "wb") as f:
            f.write(base64.b64encode(os.urandom(32)) + b"\n")
        os.chmod(other, 0o600)
        stranger = self.node("n4", key_file=other)
        self.assertEqual(stranger.proc.wait(timeout=20), 78)
        self.assertIn("does not decrypt with this encryption_key_file", stranger.logs())
        self.assertFalse(os.path.exists(stranger.socket))

if __name__ == "__main__":
    unittest.main()
