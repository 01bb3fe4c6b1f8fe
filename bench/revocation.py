"""How long a logout on one instance takes to be refused by another (bench/instances.sh).

Each round logs in on instance A, has instance B accept the token once (so B holds the
session in its cache), logs out on A and asks B again and again until it answers 401.
Prints the median, 99th percentile and maximum, in milliseconds, of the time from the
logout's answer to B's first refusal (and from the logout being sent).
Usage: python3 bench/revocation.py PORT_A PORT_B ROUNDS LOGIN PASSWORD
"""

import http.client
import json
import sys
import time


def call(connection, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main():
    port_a, port_b, rounds, login, password = sys.argv[1:6]
    a = http.client.HTTPConnection("127.0.0.1", int(port_a))
    b = http.client.HTTPConnection("127.0.0.1", int(port_b))
    after_answer, after_sent, polls = [], [], []
    for _ in range(int(rounds)):
        status, body = call(a, "POST", "/api/auth/login", {"login": login, "password": password})
        assert status == 200, body
        token = json.loads(body)["access_token"]
        status, body = call(b, "GET", "/api/auth/me", token=token)
        assert status == 200, body
        sent = time.perf_counter()
        status, body = call(a, "POST", "/api/auth/logout", token=token)
        answered = time.perf_counter()
        assert status == 204, body
        count = 0
        while True:
            count += 1
            status, _ = call(b, "GET", "/api/auth/me", token=token)
            if status == 401:
                break
            assert status == 200, status
            assert time.perf_counter() - answered < 5, "never refused"
        refused = time.perf_counter()
        after_answer.append((refused - answered) * 1000)
        after_sent.append((refused - sent) * 1000)
        polls.append(count)
    print(
        "revocation A->B ms: median %.2f p99 %.2f max %.2f (from the logout sent: median %.2f, max %.2f; "
        "requests to B until refused: max %d)"
        % (
            percentile(after_answer, 0.5),
            percentile(after_answer, 0.99),
            max(after_answer),
            percentile(after_sent, 0.5),
            max(after_sent),
            max(polls),
        )
    )
    print("p99_ms %.2f" % percentile(after_answer, 0.99))


main()
