#!/usr/bin/python3
"""HTTP listeners (transport http and https): /health, /version and
/metrics answered beside MQTT over WebSocket on the same port, keep-alive
and pipelined requests, HEAD, refusals (unknown path, wrong method, a body
over the limit, a malformed request), the idle limit of a kept-alive
connection, and the same over TLS (https and wss on one port)."""

import http.client
import json
import socket
import ssl
import time

from mqtt_test import *  # noqa: F401,F403
from transport_util import (WSConn, TransportServer, client_context, socket_closed,
                            tls_settings)


def http_listener(name="http"):
    return {"name": name, "transport": "http"}


def https_listener(name="https"):
    return {"name": name, "transport": "https", "tls": tls_settings()}


def read_response(sock, timeout=5.0):
    """One HTTP response from a raw socket: (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise TestError("closed before a response head: %r" % data)
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise TestError("closed inside a body")
        rest += chunk
    return status, headers, rest[:length], rest[length:]


@case(server=False, castor_only=True)
def health_version_and_metrics_beside_websocket_mqtt():
    with TransportServer([http_listener()]) as srv:
        port = srv.ports["http"]

        def health():
            h = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                h.request("GET", "/health")
                return h.getresponse().status
            finally:
                h.close()

        # The HTTP port may answer 503 "starting" until every listener is
        # up; it is ready soon after.
        check(wait_until(lambda: health() == 200, timeout=10),
              "/health ready within 10 s")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/health")
        r = c.getresponse()
        body = json.loads(r.read())
        check_eq(r.status, 200, "/health status")
        check_eq(body["status"], "ready", "/health body")
        # The same connection answers the next request (keep-alive).
        c.request("GET", "/version")
        r = c.getresponse()
        check_eq(r.status, 200, "/version status")
        check_eq(json.loads(r.read())["name"], "castor", "/version body")
        c.request("HEAD", "/metrics")
        r = c.getresponse()
        check_eq(r.status, 200, "HEAD /metrics")
        check(int(r.getheader("Content-Length")) > 0, "HEAD gives the length")
        check_eq(r.read(), b"", "HEAD has no body")
        check(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"),
              "exposition format content type")
        c.request("GET", "/nowhere")
        r = c.getresponse()
        check_eq(r.status, 404, "unknown path")
        check_eq(json.loads(r.read())["error"]["code"], "NOT_FOUND", "error code")
        c.request("POST", "/health", body=b"{}")
        r = c.getresponse()
        check_eq(r.status, 405, "POST /health")
        check_eq(r.getheader("Allow"), "GET, HEAD", "Allow header")
        r.read()
        # MQTT over WebSocket on the same port, while HTTP goes on.
        sub = WSConn(port)
        sub.connect(unique("http-sub"))
        sub.subscribe("http/t", qos=1)
        pub = WSConn(port)
        pub.connect(unique("http-pub"))
        pub.publish("http/t", b"over the http port", qos=1)
        sub.expect_publish(topic="http/t", payload=b"over the http port", ack=True)
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode()
        check(r.status == 200 and "# TYPE castor_" in text, "metrics: %r" % text[:200])
        c.close()
        pub.disconnect()
        sub.disconnect()


@case(server=False, castor_only=True)
def pipelined_requests_are_answered_in_order():
    with TransportServer([http_listener()]) as srv:
        s = socket.create_connection(("127.0.0.1", srv.ports["http"]), timeout=5)
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, body, rest = read_response(s)
        check_eq(status, 200, "first")
        check_eq(json.loads(body)["name"], "castor", "first body")
        check_eq(headers["connection"], "keep-alive", "first keeps the connection")
        # What came with the first response belongs to the second.
        s2 = _Prefixed(s, rest)
        status, _, _, rest = read_response(s2)
        check_eq(status, 404, "second")
        status, headers, body, _ = read_response(_Prefixed(s, rest))
        check_eq(status, 200, "third")
        check_eq(headers["connection"], "close", "third closes")
        check(socket_closed(s)[0], "closed after Connection: close")


class _Prefixed:
    """A socket whose first bytes were already read."""

    def __init__(self, sock, prefix):
        self.sock, self.prefix = sock, prefix

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.prefix:
            out, self.prefix = self.prefix, b""
            return out
        return self.sock.recv(n)


@case(server=False, castor_only=True)
def refusals_close_only_their_connection():
    with TransportServer([http_listener()], overrides={"connect_timeout_ms": 800}) as srv:
        port = srv.ports["http"]
        bystander = WSConn(port)
        bystander.connect(unique("bystander"), keepalive=60)
        # A body over the limit (1 MiB): 413, then closed.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /api/v1/publish HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 2000000\r\n\r\n" + b"x" * 1100000)
        status, _, _, _ = read_response(s)
        check_eq(status, 413, "oversized body")
        check(socket_closed(s)[0], "closed after 413")
        # Not HTTP at all: 400, closed.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03abc")
        status, _, _, _ = read_response(s)
        check_eq(status, 400, "MQTT bytes on the http port")
        # A kept-alive connection that stays idle is closed after
        # connect_timeout_ms, as one that never upgrades is.
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _, _ = read_response(idle)
        check_eq(status, 200, "idle connection's request")
        t0 = time.monotonic()
        check(socket_closed(idle, timeout=5)[0], "idle keep-alive connection stays open")
        dt = time.monotonic() - t0
        check(0.4 < dt < 3.0, "closed after %.2f s (connect_timeout_ms 800)" % dt)
        # Only the connections at fault were closed: a WebSocket client that
        # kept talking all along is still there.
        bystander.ping()
        check("not finished in time" not in srv.log(),
              "an idle HTTP connection is not a failed upgrade")


@case(server=False, castor_only=True)
def https_serves_http_and_wss_on_one_port():
    with TransportServer([https_listener()]) as srv:
        port = srv.ports["https"]
        c = http.client.HTTPSConnection("localhost", port, timeout=5, context=client_context())
        c.request("GET", "/health")
        r = c.getresponse()
        check_eq(r.status, 200, "/health over TLS")
        check_eq(json.loads(r.read())["status"], "ready", "/health body over TLS")
        c.request("GET", "/version")
        check_eq(c.getresponse().status, 200, "second request on the TLS connection")
        sub = WSConn(port, tls=True)
        sub.connect(unique("https-sub"))
        sub.subscribe("https/t", qos=1)
        pub = WSConn(port, tls=True)
        pub.connect(unique("https-pub"))
        pub.publish("https/t", b"wss beside https", qos=1)
        sub.expect_publish(topic="https/t", payload=b"wss beside https", ack=True)
        # Plain HTTP on the https port: refused by the TLS layer.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        closed, data = socket_closed(s)
        check(closed and b"HTTP" not in data, "plain HTTP on https: %r" % data)
        c.close()


if __name__ == "__main__":
    run_cases()
