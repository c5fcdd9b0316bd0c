"""SIGHUP reloads config and secrets keeping the token; log formats; journald priorities."""

import json
import os
import re
import signal
import unittest

from harness import CLIENT_SECRET, E2ETestCase


class Reload(E2ETestCase):
    def reload(self, d):
        mark = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        mark += len(d.wait_notify("RELOADING=1", 10, since=mark))
        d.wait_notify("READY=1", 10, since=mark)

    def test_a_new_code_file_and_sighup_recover_from_reauth_required(self):
        code_file = os.path.join(self.dir, "code")
        d = self.daemon(bootstrap={"code_file": code_file})
        self.assertEqual(d.bootstrap().returncode, 0)
        d.start()
        self.fake.revoke()
        self.assertEqual(d.post("/v1/token/refresh")[2]["error"], "reauth_required")
        with open(code_file, "w") as f:
            f.write(self.fake.code() + "\n")
        self.reload(d)
        recovered = d.wait_generation(2, seconds=15)
        self.assertEqual(recovered["generation"], 2)
        self.assertEqual(d.status()["state"], "valid")
        # The same code is not sent twice, however often the daemon is told to look.
        grants = self.fake.stats()["authorization_code_grants"]
        self.reload(d)
        self.assertEqual(self.fake.stats()["authorization_code_grants"], grants)
        self.assertEqual(self.fake.stats()["code_rejections"], 0)

    def test_a_broken_config_is_not_applied_and_the_token_stays(self):
        d = self.bootstrapped_daemon()
        token = d.token()
        with open(d.config, "a") as f:
            f.write("[refresh]\nmin_backoff = \"soon\"\n")
        self.reload(d)
        self.assertEqual(d.token(), token)
        self.assertIn("configuration not reloaded", d.logs())
        self.assertEqual(d.status()["state"], "valid")

    def test_sighup_rereads_the_client_secret(self):
        d = self.bootstrapped_daemon()
        with open(self.fake.secret_file, "w") as f:
            f.write("rotated-but-wrong\n")
        self.extra_secrets.append("rotated-but-wrong")
        self.reload(d)
        status, _, body = d.post("/v1/token/refresh")
        self.assertEqual((status, body["error"]), (503, "reauth_required"))
        self.assertEqual(d.status()["last_error"]["error"], "invalid_client")
        with open(self.fake.secret_file, "w") as f:
            f.write(CLIENT_SECRET + "\n")
        self.reload(d)
        self.assertEqual(d.bootstrap().returncode, 0)
        self.assertEqual(d.status()["state"], "valid")

    def test_sighup_switches_the_log_format(self):
        d = self.bootstrapped_daemon()
        with open(d.config, "a") as f:
            f.write("[log]\nformat = \"json\"\nlevel = \"debug\"\n")
        self.reload(d)
        d.post("/v1/token/refresh")
        lines = d.logs().splitlines()
        json_lines = [json.loads(line) for line in lines if line.startswith("{")]
        self.assertTrue(json_lines)
        for entry in json_lines:
            self.assertEqual(set(entry), {"ts", "level", "msg"})
        self.assertTrue(any("token refreshed" in e["msg"] for e in json_lines))


class Logs(E2ETestCase):
    def test_text_lines_carry_time_and_level(self):
        d = self.bootstrapped_daemon()
        d.post("/v1/token/refresh")
        for line in d.logs().splitlines():
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (debug|info|warning|error) ")

    def test_journald_lines_carry_priorities_and_no_timestamp(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        open(d.log_path, "a").close()
        st = os.stat(d.log_path)
        d.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
        self.fake.faults([{"kind": "status", "status": 503}])
        d.post("/v1/token/refresh")
        lines = d.logs().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<[3467]>")
        self.assertTrue(any(line.startswith("<6>") for line in lines))
        self.assertTrue(any(line.startswith("<4>") for line in lines))

    def test_json_lines_under_journald_keep_the_priority(self):
        d = self.daemon(log={"format": "json"})
        self.assertEqual(d.bootstrap().returncode, 0)
        open(d.log_path, "a").close()
        st = os.stat(d.log_path)
        d.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
        for line in d.logs().splitlines():
            self.assertTrue(re.match(r"^<\d>\{", line), line)

    def test_no_secret_reaches_the_log(self):
        d = self.bootstrapped_daemon(log={"level": "debug"})
        self.fake.faults([{"kind": "status", "status": 500}])
        d.post("/v1/token/refresh")
        d.post("/v1/token/refresh")
        self.fake.revoke()
        d.stop()
        d.start()
        d.post("/v1/token/refresh")
        with open(d.state) as f:
            state = json.load(f)
        log = d.logs()
        for secret in (CLIENT_SECRET, state["refresh_token"], state["access_token"]):
            self.assertNotIn(secret, log)


if __name__ == "__main__":
    unittest.main()
