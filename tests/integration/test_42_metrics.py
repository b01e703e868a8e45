#!/usr/bin/python3
"""GET /metrics against real traffic: the scrape passes `promtool check
metrics`, and the figures move exactly as mosquitto_pub and mosquitto_sub
make them move (messages and payload bytes by QoS, deliveries, the
delivery latency histogram, connections by listener and protocol,
sessions, subscriptions, refused CONNECTs by reason code, drops by reason,
API requests by operation and result, the actor census and the threads)."""

import http.client
import re
import shutil
import subprocess
import threading
import time

from mqtt_test import *  # noqa: F401,F403
import api_util
from transport_util import TransportServer

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read().decode()
    check_eq(r.status, 200, "GET /metrics")
    c.close()
    return body


def parse(text):
    """{(name, frozenset of (label, value))): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "a sample line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        check(key not in out, "sample given twice: %r" % line)
        out[key] = float(m.group(4))
    return out


def value(samples, name, missing=None, **labels):
    """The sum of the samples of `name` whose labels include `labels`
    (`missing` if there is none; None: there must be one)."""
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    if not found and missing is not None:
        return missing
    check(found, "no sample %s%r in the scrape" % (name, labels))
    return sum(found)


def promtool_check(text):
    if shutil.which("promtool") is None:
        raise TestError("promtool (Debian package prometheus) is not installed")
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    check_eq(r.returncode, 0, "promtool check metrics: %s%s"
             % (r.stdout.decode(), r.stderr.decode()))


class Sub:
    """mosquitto_sub (MQTT 5) printing payloads, read by a thread."""

    def __init__(self, port, topic, qos, *extra):
        self.lines = []
        self.cid = unique("c42-sub")
        self.p = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5",
             "-q", str(qos), "-t", topic, "-i", self.cid, "-F", "%q %p"] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.decode().rstrip("\n"))

    def wait_for(self, n, timeout=10):
        deadline = time.time() + timeout
        while len(self.lines) < n and time.time() < deadline:
            time.sleep(0.05)
        check(len(self.lines) >= n, "mosquitto_sub received %d of %d"
              % (len(self.lines), n))

    def stop(self):
        self.p.terminate()
        self.p.wait(5)


def wait_subscribed(port, topic, sub, marker_payload="ready"):
    """Publishes markers until the subscriber has one: its subscription is
    in force."""
    deadline = time.time() + 10
    while time.time() < deadline:
        mosquitto_pub(port, topic, marker_payload, qos=1)
        time.sleep(0.2)
        if sub.lines:
            time.sleep(0.3)
            return len(sub.lines)
    raise TestError("the subscriber never received a marker")


def mosquitto_pub(port, topic, payload, qos=0, count=1):
    """Publishes `payload` `count` times over one connection (-l: one
    message per line of stdin)."""
    r = subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5",
         "-q", str(qos), "-t", topic, "-l", "-i", unique("c42-pub")],
        input=("\n".join([payload] * count) + "\n").encode(), capture_output=True,
        timeout=30)
    check_eq(r.returncode, 0, "mosquitto_pub: %s" % r.stderr.decode())


def delta(before, after, name, **labels):
    """How much `name` grew (counts that were zero may be absent before)."""
    return value(after, name, **labels) - value(before, name, missing=0, **labels)


@case(server=False, castor_only=True, timeout=90)
def counts_follow_real_clients():
    with TransportServer([{"name": "http", "transport": "http"}]) as srv:
        hport = srv.ports["http"]
        text = scrape(hport)
        promtool_check(text)
        sub = Sub(srv.port, "m42/#", 2)
        base = wait_subscribed(srv.port, "m42/marker", sub)
        before = parse(scrape(hport))
        check(value(before, "castor_connections", listener="mqtt", protocol="5.0") >= 1,
              "the subscriber counts as an MQTT 5 connection")
        check(value(before, "castor_sessions", state="connected") >= 1, "sessions")
        check(value(before, "castor_subscriptions") >= 1, "subscriptions")
        check(value(before, "castor_actors", kind="connection") >= 1, "connection actors")
        check(value(before, "castor_actors", kind="topic_tree") == 1, "one topic tree")
        # 300 messages per QoS from four publishers at once: the per-thread
        # counts must add up exactly.
        payload = "x" * 100
        threads = []
        for q in (0, 1, 2):
            for i in range(2):
                t = threading.Thread(target=mosquitto_pub,
                                     args=(srv.port, "m42/q%d" % q, payload, q, 150))
                t.start()
                threads.append(t)
        for t in threads:
            t.join()
        sub.wait_for(base + 900)
        time.sleep(0.3)
        after = parse(scrape(hport))
        for q in ("0", "1", "2"):
            check_eq(delta(before, after, "castor_messages_received_total", qos=q), 300,
                     "PUBLISH received at QoS %s" % q)
            check_eq(delta(before, after, "castor_payload_bytes_received_total", qos=q),
                     300 * 100, "payload bytes received at QoS %s" % q)
            check_eq(delta(before, after, "castor_messages_sent_total", qos=q), 300,
                     "PUBLISH sent at QoS %s" % q)
        check_eq(delta(before, after, "castor_delivery_latency_seconds_count"), 900,
                 "every delivery in the latency histogram")
        check_eq(value(after, "castor_delivery_latency_seconds_bucket", le="+Inf"),
                 value(after, "castor_delivery_latency_seconds_count"), "+Inf = count")
        check(delta(before, after, "castor_delivery_latency_seconds_sum") > 0,
              "latency sum grows")
        check(delta(before, after, "castor_connects_total") >= 6, "connects counted")
        check(delta(before, after, "castor_bytes_received_total") > 900 * 100,
              "bytes read")
        check(delta(before, after, "castor_actor_messages_total", kind="topic") > 0,
              "topic actors handled messages")
        check(delta(before, after, "castor_actor_messages_total", kind="connection") > 0,
              "connections handled messages")
        roles = {dict(ls).get("role") for (n, ls) in after
                 if n == "castor_thread_cpu_seconds_total"}
        check("io" in roles and "worker" in roles, "I/O thread and workers: %r" % roles)
        check(value(after, "castor_thread_cpu_seconds_total", role="io") > 0,
              "the I/O thread's CPU time")
        promtool_check(scrape(hport))
        sub.stop()


@case(server=False, castor_only=True, timeout=60)
def refusals_drops_and_api_requests():
    with TransportServer([{"name": "http", "transport": "http"}]) as srv:
        hport = srv.ports["http"]
        before = parse(scrape(hport))
        # MQTT 3.1.1: an empty client id without clean session is refused
        # (return code 2, reason 0x85 inside).
        c = Conn(srv.port, version=4)
        c.connect("", rc=0x02, clean_start=False)
        c.close()
        # A subscriber whose maximum packet size is below the message: the
        # message is dropped for it (too_large), the small one arrives.
        sub = Sub(srv.port, "d42/#", 1, "-D", "connect", "maximum-packet-size", "200")
        base = wait_subscribed(srv.port, "d42/marker", sub)
        mosquitto_pub(srv.port, "d42/big", "y" * 500, qos=1)
        mosquitto_pub(srv.port, "d42/small", "after", qos=1)
        sub.wait_for(base + 1)
        check_eq(sub.lines[-1], "1 after", "the small message arrives")
        # API requests: one that works, one unknown.
        a = connect(srv.port, unique("c42-api"))
        ans = api_util.request(a, "topics/fetch", {"selector": "d42/small"})
        check(api_util.ok(ans), "topics/fetch answers")
        ans = api_util.request(a, "no/such", {})
        check_eq(api_util.error_code(ans), "UNKNOWN_OPERATION", "unknown operation")
        a.close()
        time.sleep(0.3)
        after = parse(scrape(hport))
        check_eq(delta(before, after, "castor_connects_refused_total",
                       reason="client_identifier_not_valid"), 1,
                 "the refused CONNECT, by reason")
        check_eq(delta(before, after, "castor_deliveries_dropped_total",
                       reason="too_large"), 1, "the message too large for the client")
        check_eq(delta(before, after, "castor_api_requests_total",
                       operation="topics/fetch", result="ok"), 1, "topics/fetch ok")
        check_eq(value(after, "castor_api_requests_total", operation="unknown",
                       result="UNKNOWN_OPERATION"), 1, "the unknown operation")
        check(delta(before, after, "castor_actors", kind="api_request") == 0,
              "API request actors end with their request")
        sub.stop()
        # The subscriber has gone: its connection leaves the gauge.
        deadline = time.time() + 5
        while time.time() < deadline:
            now = parse(scrape(hport))
            # The connection leaves its gauge when the socket closes; the
            # session (and its subscription) ends a moment later.
            if (value(now, "castor_connections", listener="mqtt", protocol="5.0") == 0
                    and value(now, "castor_subscriptions") == 0):
                break
            time.sleep(0.1)
        check_eq(value(now, "castor_connections", listener="mqtt", protocol="5.0"), 0,
                 "no MQTT 5 connection left")
        check_eq(value(now, "castor_subscriptions"), 0, "no subscription left")
        check(value(now, "castor_disconnects_total") >= 1, "disconnects counted")
        promtool_check(scrape(hport))


if __name__ == "__main__":
    run_cases()
