#!/usr/bin/python3
"""What survives a restart and kill -9 (docs/persistence.md): retained
messages, typed topics' values and the topics the API added, kept in the
store under storage.data_dir (here: the server's own directory, its
working directory). With durability sync, what was acknowledged is on
disk: kill -9 at any moment loses none of it."""

import glob
import json
import os
import random
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from mqtt_test import *  # noqa: F401,F403
from api_util import error_code, ok, request
from transport_util import TransportServer
from persist_util import REAL_BIN, restart, slow_disk_binary


MAPPING = """
topics:
  mapping:
    - {filter: "plant/#", type: json}
    - {filter: "count/#", type: int64}
"""


def fetch(srv, selector, cid="c65-fetch"):
    c = connect(srv.port, cid)
    try:
        a = ok(request(c, "topics/fetch", {"selector": selector}))
        return {t["path"]: t.get("value") for t in a["topics"]}
    finally:
        c.disconnect()


def retained_of(srv, filt, count, cid="c65-sub"):
    """The retained messages a new subscription to `filt` gets, by topic
    (`count` of them, then nothing more within a PINGREQ's round trip)."""
    c = connect(srv.port, cid)
    try:
        c.subscribe(filt, 1)
        got = {}
        for _ in range(count):
            p = c.expect_publish(retain=True, ack=True)
            got[p.topic] = p
        # Retained messages go before anything the subscription gets later:
        # a PINGRESP after them proves no other was on its way.
        c.send(gen_pingreq())
        p = c.recv(skip_ping=False)
        check_eq(p.type, PINGRESP, "after %d retained messages" % count)
        return got
    finally:
        c.disconnect()


@case(castor_only=True, server=False)
def retained_messages_and_typed_values_survive_kill_9():
    srv = Server(extra_config=MAPPING)
    srv.start()
    try:
        c = connect(srv.port, "c65-pub")
        c.publish("keep/a", b"A1", qos=1, retain=True)
        c.publish("keep/b", b"B0", qos=1, retain=True)
        c.publish("keep/b", b"B1", qos=2, retain=True, packet_id=2)
        c.publish("keep/gone", b"G", qos=1, retain=True)
        c.publish("keep/gone", b"", qos=1, retain=True)  # cleared
        c.publish("keep/plain", b"not retained", qos=1)
        c.publish("keep/exp", b"E", qos=1, retain=True,
                  properties={"message_expiry_interval": 600})
        # A typed topic's value is its last update, retained or not.
        c.publish("plant/x", b'{"t": 1}', qos=1)
        c.publish("plant/x", b'{"t": 2}', qos=1)
        c.publish("count/n", b"41", qos=1)
        c.publish("count/n", b"42", qos=1)
        restart(srv, kill=True)
        got = retained_of(srv, "keep/#", 3)
        check_eq(sorted(got), ["keep/a", "keep/b", "keep/exp"], "retained topics")
        check_eq(got["keep/a"].payload, b"A1", "keep/a")
        check_eq(got["keep/b"].payload, b"B1", "keep/b")
        left = got["keep/exp"].props.get("message_expiry_interval")
        check(left is not None and 590 <= left <= 600,
              "the expiry interval goes on counting: %r" % left)
        values = fetch(srv, "plant/#")
        check_eq(values, {"plant/x": {"t": 2}}, "typed value")
        check_eq(fetch(srv, "count/#"), {"count/n": 42}, "int64 value")
        # A subscriber of the typed topic's deltas gets the value first.
        s = connect(srv.port, "c65-delta")
        s.subscribe("$delta/plant/x", 1)
        s.expect_publish(topic="$delta/plant/x", payload=b'{"t": 2}', ack=True)
        # Updates go on from it.
        c = connect(srv.port, "c65-pub2")
        c.publish("plant/x", b'{"t": 3}', qos=1)
        p = s.expect_publish(topic="$delta/plant/x", ack=True)
        check(p.payload == b'{"t": 3}' or b"replace" in p.payload,
              "the next update, whole or as a patch: %r" % p.payload)
        s.disconnect()
        c.disconnect()
        # And the log says what was loaded.
        check("3 retained messages" in srv.log() or "4 retained messages" in srv.log(),
              "the startup line counts the retained messages:\n" + srv.log_tail())
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def mosquitto_and_paho_clients_find_their_retained_messages_after_kill_9():
    srv = Server()
    srv.start()
    try:
        subprocess.run(["mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", str(srv.port),
                        "-t", "site/temp", "-m", "21.5", "-r", "-q", "1"],
                       check=True, timeout=10, env=client_env())
        import paho.mqtt.client as paho
        import paho.mqtt.publish as paho_publish
        paho_publish.single("site/door", b"open", qos=2, retain=True,
                            hostname="127.0.0.1", port=srv.port,
                            protocol=paho.MQTTv311)
        restart(srv, kill=True)
        r = subprocess.run(["mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", str(srv.port),
                            "-t", "site/#", "-C", "2", "-W", "10", "-v"],
                           capture_output=True, timeout=20, env=client_env())
        check_eq(sorted(r.stdout.decode().splitlines()),
                 ["site/door open", "site/temp 21.5"], "mosquitto_sub after kill -9")
        import paho.mqtt.subscribe as paho_subscribe
        m = paho_subscribe.simple("site/temp", hostname="127.0.0.1", port=srv.port,
                                  retained=True, protocol=paho.MQTTv311)
        check_eq((m.topic, m.payload, m.retain), ("site/temp", b"21.5", 1), "paho")
    finally:
        srv.stop()


class Publisher(threading.Thread):
    """Publishes counters with QoS 1 (retained, to `topics`) and QoS 2 (to a
    typed topic) over one connection, up to `window` in flight, until the
    connection breaks; records what the server acknowledged."""

    def __init__(self, port, topics, typed, start, window=16):
        super().__init__(daemon=True)
        self.port = port
        self.topics = topics
        self.typed = typed
        self.next = start
        self.window = window
        self.acked = {}   # topic -> highest counter acknowledged
        self.acked_count = 0
        self.sent = {}    # topic -> highest counter sent
        self.error = None

    def run(self):
        try:
            c = connect(self.port, "c65-load")
        except Exception as e:  # noqa: BLE001
            self.error = e
            return
        in_flight = {}
        pid = 0
        try:
            while True:
                while len(in_flight) < self.window:
                    pid = pid % 60000 + 1
                    n = self.next
                    self.next += 1
                    if n % 5 == 4:
                        topic, qos, retain, payload = self.typed, 2, False, b"%d" % n
                    else:
                        topic = self.topics[n % len(self.topics)]
                        qos, retain, payload = 1, True, b"%d" % n
                    c.send(gen_publish(topic, qos, payload, retain, False, pid, None, 5))
                    self.sent[topic] = max(self.sent.get(topic, -1), n)
                    in_flight[pid] = (topic, n)
                p = c.recv(timeout=5)
                if p.type == PUBACK or p.type == PUBREC:
                    # A QoS 2 publish is acknowledged with PUBREC: from then
                    # on the server owns it.
                    topic, n = in_flight.pop(p.packet_id)
                    check_eq(p.reason_code in (0, 0x10), True, "ack %r" % p)
                    self.acked[topic] = max(self.acked.get(topic, -1), n)
                    self.acked_count += 1
                    if p.type == PUBREC:
                        c.send(gen_pubrel(p.packet_id))
                elif p.type == PUBCOMP:
                    pass
        except (OSError, Closed, TestError, socket.timeout):
            return


@case(castor_only=True, server=False, timeout=240)
def kill_9_at_random_moments_loses_nothing_acknowledged():
    srv = Server(extra_config=MAPPING)
    slow = slow_disk_binary(srv.dir)
    if slow:
        os.environ["CASTOR_BIN"] = slow
    else:
        print("  (strace cannot delay fsync here: the disk's own speed)")
    srv.start()
    topics = ["load/%d" % i for i in range(4)]
    typed = "count/load"
    rng = random.Random(int(os.environ.get("CASTOR_TEST_SEED", "0")) or None)
    start = 0
    total_acked = 0
    try:
        for rnd in range(20):
            pub = Publisher(srv.port, topics, typed, start)
            pub.start()
            time.sleep(rng.uniform(0.05, 0.6))  # (some rounds see no ack at all)
            srv.kill()
            pub.join(10)
            check(not pub.is_alive(), "the publisher ends with the server")
            check(pub.error is None, "round %d: %r" % (rnd, pub.error))
            total_acked += pub.acked_count
            srv.stopped = False
            srv.exit_expected = None
            srv.start()
            got = fetch(srv, "load/#")
            got.update(fetch(srv, typed))
            for topic, n in pub.acked.items():
                check(topic in got, "round %d: %s lost (acknowledged %d)" % (rnd, topic, n))
                v = int(got[topic])
                check(n <= v <= pub.sent[topic],
                      "round %d: %s holds %d; acknowledged %d, sent up to %d"
                      % (rnd, topic, v, n, pub.sent[topic]))
            # Retained messages come back to subscribers too.
            rt = retained_of(srv, "load/#", len([t for t in topics if t in got]))
            for topic, p in rt.items():
                check_eq(int(p.payload), int(got[topic]), "retained %s" % topic)
            start = pub.next + 1000
        check(total_acked > 40, "enough was acknowledged: %d" % total_acked)
    finally:
        # (strace would take SIGTERM for itself.)
        srv.kill() if slow else srv.stop()
        os.environ["CASTOR_BIN"] = REAL_BIN


@case(castor_only=True, server=False)
def topics_added_through_the_api_come_back_and_removed_ones_do_not():
    srv = Server()
    srv.start()
    try:
        c = connect(srv.port, "c65-api")
        ok(request(c, "topics/add", {"path": "api/n", "type": "int64"}))
        ok(request(c, "topics/add", {"path": "api/s", "type": "string",
                                     "properties": {"PUBLISH_VALUES_ONLY": "true"}}))
        ok(request(c, "topics/add", {"path": "api/gone", "type": "json"}))
        c.publish("api/n", b"7", qos=1)
        ok(request(c, "topics/remove", {"selector": "api/gone"}))
        c.disconnect()
        restart(srv, kill=False)
        c = connect(srv.port, "c65-api2")
        a = ok(request(c, "topics/fetch", {"selector": "api/#", "values": True}))
        got = {t["path"]: (t["type"], t.get("value")) for t in a["topics"]}
        check_eq(got.get("api/n"), ("int64", 7), "api/n")
        # api/s (no value: not fetched) is there with its specification:
        # another one is refused.
        check_eq(error_code(request(c, "topics/add", {"path": "api/s", "type": "json"})),
                 "TOPIC_EXISTS", "api/s with another type")
        # api/gone is not: a topic of another type can take its place.
        ok(request(c, "topics/add", {"path": "api/gone", "type": "int64"}))
        ok(request(c, "topics/remove", {"selector": "api/gone"}))
        # The specification is in force: a value that is no int64 is refused.
        c.send(gen_publish("api/n", 1, b"seven", False, False, 5, None, 5))
        expect_ack(c, PUBACK, 5, 0x99)
        ok(request(c, "topics/remove", {"selector": "api/s"}))
        c.disconnect()
        restart(srv, kill=True)
        c = connect(srv.port, "c65-api3")
        ok(request(c, "topics/add", {"path": "api/s", "type": "json"}))
        check_eq(error_code(request(c, "topics/add", {"path": "api/n", "type": "json"})),
                 "TOPIC_EXISTS", "api/n is still there")
        c.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def a_message_that_expires_while_the_server_is_down_is_gone():
    srv = Server()
    srv.start()
    try:
        c = connect(srv.port, "c65-exp")
        c.publish("exp/short", b"S", qos=1, retain=True,
                  properties={"message_expiry_interval": 2})
        c.publish("exp/long", b"L", qos=1, retain=True,
                  properties={"message_expiry_interval": 300})
        c.disconnect()
        srv.stop()
        time.sleep(2.5)
        srv.stopped = False
        srv.start()
        got = retained_of(srv, "exp/#", 1)
        check_eq(sorted(got), ["exp/long"], "what has not expired")
        left = got["exp/long"].props.get("message_expiry_interval")
        check(left is not None and left <= 298, "counted while down: %r" % left)
        check("1 expired since" in srv.log(), "the log counts the expired one")
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def async_durability_and_a_clean_stop_keep_everything():
    srv = Server(extra_config="storage: {durability: async, async_interval_ms: 50}\n")
    srv.start()
    try:
        c = connect(srv.port, "c65-async")
        for i in range(200):
            c.publish("async/%d" % (i % 10), b"%d" % i, qos=1, retain=True,
                      packet_id=i % 100 + 1)
        c.disconnect()
        restart(srv, kill=False)
        got = retained_of(srv, "async/#", 10)
        check_eq({t: int(p.payload) for t, p in got.items()},
                 {"async/%d" % k: 190 + k for k in range(10)}, "last values")
        check("durability async" in srv.log(), "the log names the durability")
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def storage_off_keeps_nothing():
    srv = Server(extra_config="storage: {enabled: false}\n")
    srv.start()
    try:
        c = connect(srv.port, "c65-off")
        c.publish("off/a", b"A", qos=1, retain=True)
        c.disconnect()
        restart(srv, kill=False)
        c = connect(srv.port, "c65-off2")
        c.subscribe("off/#", 1)
        c.send(gen_pingreq())
        check_eq(c.recv(skip_ping=False).type, PINGRESP, "no retained message")
        c.disconnect()
        check(not os.path.exists(os.path.join(srv.dir, "data")), "no data directory")
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def a_data_directory_in_use_is_refused_with_its_name():
    srv = Server()
    srv.start()
    try:
        data = os.path.join(srv.dir, "data")
        conf = os.path.join(srv.dir, "second.yaml")
        with open(conf, "w") as f:
            f.write("listeners:\n  - {name: m, transport: tcp, bind: 127.0.0.1, port: %d}\n"
                    "storage: {data_dir: %s}\n" % (free_port(), data))
        r = subprocess.run([castor_bin(), "--config", conf], capture_output=True,
                           timeout=30, env=broker_env(), stdin=subprocess.DEVNULL)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        check(r.returncode != 0, "the second server must not start:\n" + out)
        check("storage.data_dir" in out and data in out and "in use by another process" in out,
              "the error names the setting, the directory and why:\n" + out)
        # The first one goes on.
        c = connect(srv.port, "c65-first")
        c.disconnect()
    finally:
        srv.stop()


def last_open(srv):
    """The log line of the server's last start that says what it read."""
    lines = [l for l in srv.log().splitlines() if "[storage] opened" in l]
    return lines[-1] if lines else ""


def series_values(c, path):
    a = ok(request(c, "timeseries/range", {"path": path, "view": "edits"}))
    return [(e["seq"], e["value"], e.get("original")) for e in a["events"]]


@case(castor_only=True, server=False)
def time_series_events_come_back_within_their_retained_range():
    srv = Server()
    srv.start()
    try:
        c = connect(srv.port, "c65-ts")
        ok(request(c, "topics/add", {"path": "ts/m", "type": "time_series", "properties": {
            "TIME_SERIES_EVENT_VALUE_TYPE": "int64",
            "TIME_SERIES_RETAINED_RANGE": "limit 4"}}))
        for v in (10, 11, 12):
            c.publish("ts/m", b"%d" % v, qos=1)
        ok(request(c, "timeseries/edit", {"path": "ts/m", "original": 1, "value": 99}))
        before = series_values(c, "ts/m")
        check_eq(before, [(0, 10, None), (1, 11, None), (2, 12, None), (3, 99, 1)],
                 "the series")
        c.disconnect()
        restart(srv, kill=True)
        c = connect(srv.port, "c65-ts2")
        check_eq(series_values(c, "ts/m"), before, "the events after kill -9")
        # It goes on numbering from where it was, and the events its
        # retained range drops leave the store too.
        a = ok(request(c, "timeseries/append", {"path": "ts/m", "value": 13}))
        check_eq(a["seq"], 4, "the next seq")
        after = series_values(c, "ts/m")
        check_eq([s for s, _, _ in after], [1, 2, 3, 4], "four kept")
        c.disconnect()
        restart(srv, kill=False)
        c = connect(srv.port, "c65-ts3")
        check_eq(series_values(c, "ts/m"), after, "after a clean restart")
        check(" 4 time series events" in last_open(srv), "only the four kept are stored: "
              + last_open(srv))
        # Removed: its events go with it.
        ok(request(c, "topics/remove", {"selector": "ts/m"}))
        c.disconnect()
        restart(srv, kill=True)
        check(" 0 time series events" in last_open(srv), "nothing left: " + last_open(srv))
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def retained_messages_are_bounded_and_the_bound_holds_after_a_restart():
    srv = Server(overrides={"max_retained_messages": 3, "max_retained_bytes": 200})
    srv.start()
    try:
        c = connect(srv.port, "c65-bound")
        for i in range(5):
            c.publish("bound/%d" % i, b"m%d" % i, qos=1, retain=True, packet_id=i + 1)
        check_eq(sorted(retained_of(srv, "bound/#", 3)), ["bound/0", "bound/1", "bound/2"],
                 "three kept")
        check("retained message not kept" in srv.log(), "the refusal is logged")
        # A new value of a kept one replaces it; a cleared one makes room.
        c.publish("bound/1", b"m1b", qos=1, retain=True, packet_id=7)
        c.publish("bound/2", b"", qos=1, retain=True, packet_id=8)
        c.publish("bound/4", b"m4", qos=1, retain=True, packet_id=9)
        # Too many bytes (topic and payload, 200 in all): not kept, and
        # the topic keeps no stale value either.
        c.publish("bound/0", b"x" * 190, qos=1, retain=True, packet_id=10)
        got = retained_of(srv, "bound/#", 2)
        check_eq({t: p.payload for t, p in got.items()},
                 {"bound/1": b"m1b", "bound/4": b"m4"}, "after the changes")
        c.disconnect()
        # The store holds what the server held, and the bound counts it.
        restart(srv, kill=True)
        c = connect(srv.port, "c65-bound2")
        c.publish("bound/5", b"m5", qos=1, retain=True)
        c.publish("bound/6", b"m6", qos=1, retain=True, packet_id=2)
        got = retained_of(srv, "bound/#", 3)
        check_eq(sorted(got), ["bound/1", "bound/4", "bound/5"], "the bound after the restart")
        c.disconnect()
    finally:
        srv.stop()


def post_backup(port, body):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/backup" % port,
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@case(castor_only=True, server=False)
def a_backup_taken_while_running_is_a_data_directory():
    srv = TransportServer([{"name": "http", "transport": "http"}])
    srv.start()
    other = None
    try:
        c = connect(srv.port, "c65-bk")
        c.publish("bk/a", b"before", qos=1, retain=True)
        backup = os.path.join(srv.dir, "backup-1")
        status, a = post_backup(srv.ports["http"], {"dir": backup})
        check_eq((status, a), (200, {"ok": True, "dir": backup}), "the backup")
        c.publish("bk/a", b"after", qos=1, retain=True)
        c.publish("bk/b", b"after", qos=1, retain=True)
        c.disconnect()
        status, a = post_backup(srv.ports["http"], {"dir": backup})
        check_eq((status, a["error"]["code"]), (400, "BACKUP_FAILED"), "into an existing one")
        status, a = post_backup(srv.ports["http"], {"dir": "relative"})
        check_eq((status, a["error"]["code"]), (400, "INVALID_REQUEST"), "a relative path")
        # The backup as another server's data directory: what was
        # acknowledged before it, nothing after.
        other = Server(extra_config="storage: {data_dir: %s}\n" % backup)
        other.start()
        got = retained_of(other, "bk/#", 1, cid="c65-bk2")
        check_eq({t: p.payload for t, p in got.items()}, {"bk/a": b"before"},
                 "what the backup holds")
    finally:
        srv.stop()
        if other:
            other.stop()


@case(castor_only=True, server=False)
def castor_backup_asks_a_running_server_for_a_backup():
    srv = TransportServer([{"name": "http", "transport": "http"}])
    srv.start()
    try:
        c = connect(srv.port, "c65-cli")
        c.publish("cli/a", b"kept", qos=1, retain=True)
        c.disconnect()
        url = "http://127.0.0.1:%d" % srv.ports["http"]
        backup = os.path.join(srv.dir, "backup-cli")
        r = run_castor(["backup", backup, "--url", url])
        check_eq(r.stdout.decode().strip(), "backup written to " + backup, "stdout")
        check(os.path.exists(os.path.join(backup, "CURRENT")),
              "a RocksDB directory: %r" % os.listdir(backup))
        r = run_castor(["backup", backup, "--url", url], status=1)
        check("BACKUP_FAILED" in r.stderr.decode(), "into an existing one: %r" % r.stderr)
        r = run_castor(["backup", backup, "--url", "https://x"], status=2)
        check("expected http://HOST:PORT" in r.stderr.decode(), "bad url: %r" % r.stderr)
        r = run_castor(["backup"], status=2)
        check("missing" in r.stderr.decode(), "no directory: %r" % r.stderr)
        r = run_castor(["backup", backup + "-2", "--url", "http://127.0.0.1:%d" % free_port()],
                       status=1)
        check("cannot connect" in r.stderr.decode(), "no server: %r" % r.stderr)
        other = Server(extra_config="storage: {data_dir: %s}\n" % backup)
        other.start()
        try:
            got = retained_of(other, "cli/#", 1, cid="c65-cli2")
            check_eq({t: p.payload for t, p in got.items()}, {"cli/a": b"kept"},
                     "what the backup holds")
        finally:
            other.stop()
    finally:
        srv.stop()


def rest_post(port, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/%s" % (port, path),
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@case(castor_only=True, server=False)
def api_answers_that_add_topics_wait_for_the_disk():
    """With every fsync 40 ms long, topics/add answers (over MQTT and the
    REST API) take at least that long: they wait until the topic is on
    disk; a fetch, which changes nothing, does not wait."""
    srv = TransportServer([{"name": "http", "transport": "http"}])
    slow = slow_disk_binary(srv.dir)
    if not slow:
        raise Skip("strace cannot delay fsync here")
    os.environ["CASTOR_BIN"] = slow
    try:
        srv.start()
        c = connect(srv.port, "c65-wait")
        t0 = time.monotonic()
        ok(request(c, "topics/add", {"path": "w/mqtt", "type": "int64"}))
        mqtt_s = time.monotonic() - t0
        t0 = time.monotonic()
        rest = rest_post(srv.ports["http"], "topics",
                         {"path": "w/rest", "type": "int64"})
        rest_s = time.monotonic() - t0
        t0 = time.monotonic()
        ok(request(c, "topics/fetch", {"selector": "w/#"}))
        fetch_s = time.monotonic() - t0
        c.disconnect()
        check(rest.get("ok") is True, "REST topics/add: %r" % rest)
        check(mqtt_s >= 0.035, "MQTT topics/add answered in %.1f ms" % (mqtt_s * 1000))
        check(rest_s >= 0.035, "REST topics/add answered in %.1f ms" % (rest_s * 1000))
        check(fetch_s < 0.035, "topics/fetch waited: %.1f ms" % (fetch_s * 1000))
    finally:
        srv.kill()  # (strace would take SIGTERM for itself)
        os.environ["CASTOR_BIN"] = REAL_BIN


@case(castor_only=True, server=False)
def a_backup_without_storage_is_refused():
    srv = TransportServer([{"name": "http", "transport": "http"}])
    srv.extra_config = "storage: {enabled: false}\n"
    srv.start()
    try:
        status, a = post_backup(srv.ports["http"], {"dir": os.path.join(srv.dir, "b")})
        check_eq((status, a["error"]["code"]), (409, "CONFLICT"), "storage off")
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def a_log_cut_short_and_damaged_tables_are_repaired_and_reported():
    srv = Server()
    srv.start()
    try:
        data = os.path.join(srv.dir, "data")
        c = connect(srv.port, "c65-dmg")
        for i in range(50):
            c.publish("dmg/%d" % i, b"v%d" % i, qos=1, retain=True, packet_id=i + 1)
        c.disconnect()
        # Two clean restarts: the log's records go into a table.
        restart(srv, kill=False)
        restart(srv, kill=False)
        c = connect(srv.port, "c65-dmg2")
        for i in range(5):
            c.publish("dmg/new%d" % i, b"n%d" % i, qos=1, retain=True, packet_id=i + 1)
        c.disconnect()
        srv.kill()
        # The log cut in its last record, as a crash in the middle of a
        # write leaves it.
        logs = sorted(glob.glob(os.path.join(data, "*.log")), key=os.path.getmtime)
        check(logs, "a write-ahead log in %s: %s" % (data, os.listdir(data)))
        size = os.path.getsize(logs[-1])
        check(size > 10, "the log has records")
        with open(logs[-1], "r+b") as f:
            f.truncate(size - 7)
        srv.stopped = False
        srv.exit_expected = None
        srv.start()
        check("write-ahead log is damaged or cut short" in srv.log(),
              "the cut is reported:\n" + srv.log_tail())
        got = fetch(srv, "dmg/#")
        check_eq(len([k for k in got if not k.startswith("dmg/new")]), 50,
                 "what came before the cut is whole")
        check(len([k for k in got if k.startswith("dmg/new")]) >= 4,
              "only the last record may be lost: %r" % sorted(got))
        restart(srv, kill=False)
        srv.stop()
        # Damaged tables: bytes in the middle of every table overwritten.
        tables = glob.glob(os.path.join(data, "*.sst"))
        check(tables, "tables in %s: %s" % (data, os.listdir(data)))
        for t in tables:
            size = os.path.getsize(t)
            with open(t, "r+b") as f:
                f.seek(size // 3)
                f.write(b"\xde\xad\xbe\xef" * 8)
        srv.stopped = False
        srv.start()
        log = srv.log()
        check("tables are damaged" in log, "the damage is reported:\n" + srv.log_tail())
        check(glob.glob(data + ".damaged-*"), "the damaged directory is kept aside")
        # The server runs, and takes new retained messages.
        c = connect(srv.port, "c65-dmg3")
        c.publish("dmg/after", b"ok", qos=1, retain=True)
        c.disconnect()
        restart(srv, kill=True)
        check_eq(fetch(srv, "dmg/after"), {"dmg/after": "ok"}, "after the repair")
    finally:
        srv.stop()


if __name__ == "__main__":
    run_cases()
