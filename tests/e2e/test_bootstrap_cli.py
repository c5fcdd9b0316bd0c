"""`priava-tokend bootstrap` and `check-config` run by hand against the fake."""

import json
import os
import unittest

from harness import CLIENT_SECRET, E2ETestCase


class Bootstrap(E2ETestCase):
    def test_exchanges_the_code_and_writes_a_private_state_file(self):
        d = self.daemon()
        code = self.fake.code()
        result = d.bootstrap(code)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("expires", result.stdout)
        self.assertEqual(os.stat(d.state).st_mode & 0o777, 0o600)
        with open(d.state) as f:
            state = json.load(f)
        self.assertEqual(state["refresh_token"], self.fake.refresh_token())
        self.assertEqual(state["generation"], 1)
        for secret in (state["refresh_token"], state["access_token"], code, CLIENT_SECRET):
            self.assertNotIn(secret, result.stdout + result.stderr)

    def test_reads_the_code_from_a_file(self):
        d = self.daemon()
        code_file = os.path.join(self.dir, "code")
        with open(code_file, "w") as f:
            f.write(self.fake.code() + "\n")
        result = d.cli("bootstrap", "--config", d.config, "--code-file", code_file)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_rejected_code_exits_77_with_priavas_description(self):
        d = self.daemon()
        result = d.bootstrap("not-a-code+/=")
        self.assertEqual(result.returncode, 77)
        self.assertIn("invalid_grant", result.stderr)
        self.assertIn("Admin > API Access", result.stderr)
        self.assertNotIn("not-a-code+/=", result.stderr)
        self.assertFalse(os.path.exists(d.state))

    def test_a_used_code_is_rejected(self):
        d = self.daemon()
        code = self.fake.code()
        self.assertEqual(d.bootstrap(code).returncode, 0)
        result = d.bootstrap(code, "--force")
        self.assertEqual(result.returncode, 77)

    def test_a_wrong_client_secret_is_a_configuration_error(self):
        wrong = os.path.join(self.dir, "wrong_secret")
        with open(wrong, "w") as f:
            f.write("wrong-secret\n")
        self.extra_secrets.append("wrong-secret")
        os.chmod(wrong, 0o600)
        d = self.daemon(priava={"client_secret_file": wrong})
        result = d.bootstrap()
        self.assertEqual(result.returncode, 78)
        self.assertIn("invalid_client", result.stderr)

    def test_an_existing_credential_is_replaced_only_with_force_and_after_success(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        with open(d.state) as f:
            before = f.read()
        refused = d.bootstrap()
        self.assertEqual(refused.returncode, 1)
        self.assertIn("--force", refused.stderr)
        failed = d.bootstrap("bad-code", "--force")
        self.assertEqual(failed.returncode, 77)
        with open(d.state) as f:
            self.assertEqual(f.read(), before)
        forced = d.bootstrap(None, "--force")
        self.assertEqual(forced.returncode, 0, forced.stderr)
        with open(d.state) as f:
            self.assertEqual(json.load(f)["generation"], 2)

    def test_an_unreachable_priava_is_a_temporary_failure(self):
        d = self.daemon(priava={"token_url": "https://127.0.0.1:1/api/rest/oauth/token"})
        result = d.bootstrap("some-code")
        self.assertEqual(result.returncode, 75)
        self.assertIn("127.0.0.1:1", result.stderr)

    def test_a_group_readable_secret_file_is_refused(self):
        os.chmod(self.fake.secret_file, 0o640)
        d = self.daemon()
        result = d.bootstrap("some-code")
        self.assertEqual(result.returncode, 78)
        self.assertIn("chmod 600", result.stderr)


class CheckConfig(E2ETestCase):
    def test_a_good_configuration_passes(self):
        d = self.daemon()
        result = d.cli("check-config", "--config", d.config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("configuration OK", result.stdout)
        self.assertIn("secret from file", result.stdout)
        self.assertNotIn(CLIENT_SECRET, result.stdout)

    def test_every_problem_is_named_with_its_fix(self):
        d = self.daemon(refresh={"min_backoff": "fast", "max_backof": "1m"},
                        priava={"region": "MARS"})
        result = d.cli("check-config", "--config", d.config)
        self.assertEqual(result.returncode, 78)
        for text in ("refresh.min_backoff", "refresh.max_backof", "did you mean refresh.max_backoff",
                     "priava.region", "fix:"):
            self.assertIn(text, result.stderr)

    def test_an_insecure_state_file_is_reported(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        os.chmod(d.state, 0o644)
        result = d.cli("check-config", "--config", d.config)
        self.assertEqual(result.returncode, 78)
        self.assertIn("chmod 600", result.stderr)
        d.start(wait_ready=False)
        self.assertEqual(d.proc.wait(20), 78)

    def test_environment_alone_configures(self):
        d = self.daemon()
        env = {"PRIAVA_TOKEND_PRIAVA_TOKEN_URL": self.fake.token_url,
               "PRIAVA_TOKEND_PRIAVA_REGION": "APAC",
               "PRIAVA_TOKEND_PRIAVA_CLIENT_ID": "e2e-client",
               "PRIAVA_TOKEND_PRIAVA_REDIRECT_URI": "https://my.app.com/oauth2callback",
               "PRIAVA_TOKEND_PRIAVA_CA_FILE": self.fake.ca_file,
               "PRIAVA_CLIENT_SECRET": CLIENT_SECRET,
               "PRIAVA_TOKEND_STATE_PATH": d.state,
               "PRIAVA_TOKEND_LISTEN_SOCKET": d.socket,
               "PRIAVA_TOKEND_CONFIG": os.path.join(self.dir, "absent.toml")}
        missing = d.cli("check-config", env=env)
        self.assertEqual(missing.returncode, 78)  # a chosen config file must exist
        del env["PRIAVA_TOKEND_CONFIG"]
        result = d.cli("check-config", env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("PRIAVA_CLIENT_SECRET", result.stdout)


if __name__ == "__main__":
    unittest.main()
