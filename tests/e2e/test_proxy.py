"""The API proxy (docs/proxy.md): apps call Priava through the daemon, which carries the token,
the region and Priava's rate budget for them. The real binary against the fake Priava's API."""

import hashlib
import json
import os
import socket
import threading
import time
import unittest

from harness import E2ETestCase, request, request_json

PROXY = "/v1/proxy/"


def proxy_section(**overrides):
    section = {"enabled": True}
    section.update(overrides)
    return section


class ProxyTestCase(E2ETestCase):
    def proxied_daemon(self, **proxy):
        return self.bootstrapped_daemon(proxy=proxy_section(**proxy))

    def call(self, d, method, path, body=None, headers=None, timeout=60):
        return request(d.socket, method, PROXY + path, body, headers, timeout)

    def call_json(self, d, method, path, body=None, headers=None, timeout=60):
        return request_json(d.socket, method, PROXY + path, body, headers, timeout)


class ProxyBasics(ProxyTestCase):
    def test_a_call_reaches_priava_with_the_token_and_the_region(self):
        d = self.proxied_daemon()
        status, headers, body = self.call_json(d, "GET", "ping")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"ok": True, "region": "APAC"})
        self.assertIn("priava-tokend-queue-ms", headers)
        self.assertEqual(self.fake.stats()["api_ok"], 1)

    def test_the_apps_authorization_and_region_are_replaced_and_the_token_never_comes_back(self):
        d = self.proxied_daemon()
        token = d.token()["access_token"]
        status, headers, body = self.call_json(
            d, "POST", "echo?x=1", b"{}",
            {"Authorization": "Bearer app-made-this-up", "TenantRegion": "EU",
             "Content-Type": "application/json", "X-App": "kept",
             "Connection": "keep-alive, X-Hop", "X-Hop": "dropped",
             "Priava-Tokend-Client": "dropped"})
        self.assertEqual(status, 200, body)
        sent = {k.lower(): v for k, v in body["headers"].items()}
        self.assertEqual(sent["authorization"], "valid")  # the fake checked it was the token
        self.assertEqual(sent["tenantregion"], "APAC")
        self.assertEqual(sent["x-app"], "kept")
        self.assertEqual(sent["content-type"], "application/json")
        for dropped in ("x-hop", "priava-tokend-client"):
            self.assertNotIn(dropped, sent)
        self.assertEqual(body["query"], "x=1")
        everything = json.dumps(dict(headers)) + json.dumps(body)
        self.assertNotIn(token, everything)
        self.assertNotIn(token, d.logs())

    def test_priavas_own_errors_reach_the_app_unchanged(self):
        d = self.proxied_daemon()
        status, _, body = self.call_json(d, "GET", "events/nope")
        self.assertEqual(status, 404)
        self.assertEqual(body["error"], "not_found")
        status, headers, body = self.call_json(d, "DELETE", "echo")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "POST, PUT, PATCH")

    def test_traversal_and_encoded_separators_are_refused_before_priava(self):
        d = self.proxied_daemon()
        for path in ("../oauth/token", "events/%2e%2e/x", "events%2Fx", "a/%00", "a//b"):
            status, _, body = self.call_json(d, "GET", path)
            self.assertEqual(status, 400, path)
            self.assertEqual(body["error"], "bad_request", path)
        self.assertEqual(self.fake.stats()["api_requests"], 0)

    def test_the_proxy_is_off_by_default(self):
        d = self.bootstrapped_daemon()
        status, _, body = request_json(d.socket, "GET", PROXY + "ping")
        self.assertEqual(status, 404)
        self.assertIn("[proxy] enabled = true", body["error_description"])

    def test_upstream_connections_are_kept_alive_and_reused(self):
        d = self.proxied_daemon()
        for _ in range(5):
            status, _, _ = self.call(d, "GET", "events")
            self.assertEqual(status, 200)
        pool = d.status()["proxy"]["upstream_connections"]
        self.assertEqual(pool["opened"], 1, pool)
        self.assertEqual(pool["reused"], 4, pool)


if __name__ == "__main__":
    unittest.main()
