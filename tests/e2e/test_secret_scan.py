"""The leak scan that every end-to-end test ends with can fail: it is not a formality."""

import unittest

import harness
from harness import CLIENT_SECRET, E2ETestCase


class SecretScan(E2ETestCase):
    def test_catches_any_eight_characters_of_a_refresh_token(self):
        self.bootstrapped_daemon()
        piece = self.fake.refresh_token()[5:13]
        harness.OBSERVED.append((False, "a log line quoting ..." + piece + "..."))
        with self.assertRaises(AssertionError):
            self.assert_no_secret_leaked()
        harness.OBSERVED.pop()

    def test_catches_the_client_secret_in_a_token_answer_too(self):
        self.bootstrapped_daemon()
        harness.OBSERVED.append((True, '{"x":"' + CLIENT_SECRET[3:11] + '"}'))
        with self.assertRaises(AssertionError):
            self.assert_no_secret_leaked()
        harness.OBSERVED.pop()

    def test_allows_access_tokens_only_in_token_answers(self):
        d = self.bootstrapped_daemon()
        token = d.token()["access_token"]
        self.assert_no_secret_leaked()
        harness.OBSERVED.append((False, "status: " + token))
        with self.assertRaises(AssertionError):
            self.assert_no_secret_leaked()
        harness.OBSERVED.pop()


if __name__ == "__main__":
    unittest.main()
