"""HTTP helpers shared by the tests against a private Apache
(test_apache.py, test_fastcgi_apache.py)."""

import http.client
import socket
import time


def request(port, method, path, body=None, headers=None, timeout=120):
    """One HTTP request; (status, headers with lower-case names, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def raw_head(port, path):
    """HEAD over a raw socket: (head bytes, whatever came after the blank line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(
            b"HEAD "
            + path.encode("ascii")
            + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        raw = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            raw += data
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, raw[:500]
    return head, rest


def latin1(text):
    """The PEP 3333 form of a UTF-8 string: its bytes as latin-1."""
    return text.encode("utf-8").decode("latin-1")


def wait_for_log(server, *needles, timeout=15):
    """The error log once it contains every needle (script stderr may lag a little)."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.error_log()
        if all(n in log for n in needles) or time.monotonic() > deadline:
            return log
        time.sleep(0.05)
