"""A client app for tests/e2e/test_proxy.py: sends COUNT calls through the proxy at once, one
connection each, and prints a JSON list of [status, seconds since start] as each ends.

    proxy_flood.py SOCKET PATH COUNT
"""

import json
import sys
import threading
import time

from harness import request

socket_path, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.monotonic()
results = []
lock = threading.Lock()


def one():
    try:
        status, _, _ = request(socket_path, "GET", "/v1/proxy/" + path, timeout=120, record=False)
    except OSError as e:
        status = str(e)
    with lock:
        results.append([status, time.monotonic() - start])


threads = [threading.Thread(target=one) for _ in range(count)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(results))
