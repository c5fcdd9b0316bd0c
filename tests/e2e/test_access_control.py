"""Who may use the socket: file mode and group, then SO_PEERCRED against the allow-lists.

Runs clients as another user with setpriv(1), so it needs root (CI runs as root)."""

import os
import pwd
import grp
import stat
import subprocess
import unittest

from harness import E2ETestCase

NOBODY = pwd.getpwnam("nobody")


def as_nobody(*args, groups=None):
    """Runs a command as nobody (optionally with supplementary groups)."""
    creds = ["--reuid=%d" % NOBODY.pw_uid, "--regid=%d" % NOBODY.pw_gid]
    creds += ["--groups=" + ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
    return subprocess.run(["setpriv", *creds, *args], capture_output=True, text=True, timeout=30)


def curl_status(sock, path="/v1/token", groups=None):
    r = as_nobody("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock,
                  "http://localhost" + path, groups=groups)
    return r.stdout.strip()


@unittest.skipUnless(os.geteuid() == 0, "needs root to run clients as another user")
class AccessControl(E2ETestCase):
    def setUp(self):
        super().setUp()
        os.chmod(self.dir, 0o755)  # let nobody reach the socket inside the test directory

    def test_a_uid_outside_allow_uids_gets_403_and_is_logged(self):
        d = self.bootstrapped_daemon(listen={"mode": "0666", "allow_uids": [0]})
        self.assertEqual(curl_status(d.socket), "403")
        self.assertIn("uid %d, gid %d, pid " % (NOBODY.pw_uid, NOBODY.pw_gid), d.logs())
        self.assertEqual(d.token()["generation"], 1)  # root is listed

    def test_a_listed_uid_or_group_is_served(self):
        d = self.bootstrapped_daemon(listen={"mode": "0666", "allow_uids": [NOBODY.pw_uid]})
        self.assertEqual(curl_status(d.socket), "200")
        group = self.bootstrapped_group_daemon()
        self.assertEqual(curl_status(group.socket), "403")
        self.assertEqual(curl_status(group.socket, groups=[4242]), "200")

    def bootstrapped_group_daemon(self):
        d = self.daemon(name="group", state_path=os.path.join(self.dir, "group.json"),
                        listen={"mode": "0666", "allow_gids": [4242]})
        self.assertEqual(d.bootstrap().returncode, 0)
        return d.start()

    def test_socket_mode_keeps_others_out_before_any_credential_check(self):
        d = self.bootstrapped_daemon(listen={"mode": "0660"})
        self.assertEqual(stat.S_IMODE(os.stat(d.socket).st_mode), 0o660)
        result = as_nobody(os.environ["PRIAVA_TOKEND_BIN"], "token", "--socket", d.socket)
        self.assertEqual(result.returncode, 69)
        self.assertIn("Permission denied", result.stderr)

    def test_the_socket_group_lets_its_members_in(self):
        gid = NOBODY.pw_gid
        d = self.bootstrapped_daemon(listen={"mode": "0660", "group": str(gid)})
        st = os.stat(d.socket)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_gid), (0o660, gid))
        self.assertEqual(curl_status(d.socket, groups=[gid]), "200")

    def test_bootstrap_over_the_socket_is_for_root_and_the_daemon_user_only(self):
        d = self.bootstrapped_daemon(listen={"mode": "0666"})
        r = as_nobody("curl", "-s", "--unix-socket", d.socket, "-X", "POST",
                      "-H", "Content-Type: application/x-www-form-urlencoded",
                      "--data", "code=abc&force=1", "http://localhost/v1/bootstrap")
        self.assertIn("forbidden", r.stdout)
        self.assertIn("refused POST /v1/bootstrap from uid %d" % NOBODY.pw_uid, d.logs())

    def test_bootstrap_as_root_leaves_the_state_to_the_directory_owner(self):
        state_dir = os.path.join(self.dir, "state")
        os.mkdir(state_dir, 0o700)
        os.chown(state_dir, NOBODY.pw_uid, NOBODY.pw_gid)  # e.g. a DynamicUser= StateDirectory
        d = self.daemon(state_path=os.path.join(state_dir, "state.json"))
        self.assertEqual(d.bootstrap().returncode, 0)
        for path in (d.state, d.state + ".lock"):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                             (NOBODY.pw_uid, NOBODY.pw_gid, 0o600), path)

    def test_state_and_lock_files_are_private(self):
        d = self.bootstrapped_daemon()
        for path in (d.state, d.state + ".lock"):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)

    def test_group_readable_state_or_secret_is_refused_at_start(self):
        d = self.daemon()
        self.assertEqual(d.bootstrap().returncode, 0)
        os.chmod(d.state, 0o640)
        d.start(wait_ready=False)
        self.assertEqual(d.proc.wait(20), 78)
        self.assertIn("chmod 600 " + d.state, d.logs())
        d.stop()
        os.chmod(d.state, 0o600)
        os.chmod(self.fake.secret_file, 0o640)
        d.start(wait_ready=False)
        self.assertEqual(d.proc.wait(20), 78)
        # The file is named by its setting, not by a path that could be a pasted secret.
        self.assertIn("the client secret file of priava.client_secret_file has mode 0640",
                      d.logs())


if __name__ == "__main__":
    unittest.main()
