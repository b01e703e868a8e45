#!/usr/bin/python3
"""Deltas over plain MQTT 5 (docs/platform.md, "Deltas"): a subscription to
`$delta/<filter>` receives each matching topic on `$delta/<topic>`, first
its value, then every update whole or, when smaller, as a delta against the
value the subscriber last received: a JSON Patch (RFC 6902, content type
application/json-patch+json) between JSON values, a binary delta
(application/x-castor-delta) between values that are not JSON. The
subscribers here rebuild every value from what they receive with an
independent implementation (Debian's python3-jsonpatch; a decoder of the
documented binary format written here) and compare it with what a plain
subscriber got."""

import json
import random

import jsonpatch
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_test import *  # noqa: F401,F403
from paho_util import Client

PATCH = "application/json-patch+json"
BINARY_DELTA = "application/x-castor-delta"


def varint(data, i):
    """An unsigned LEB128 number at data[i:]: (value, next index)."""
    n = shift = 0
    while True:
        check(i < len(data), "truncated varint")
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def apply_binary_delta(old, delta):
    """The documented format: 0x01 offset length copies from the old value,
    0x02 length bytes inserts; the result starts empty."""
    out = bytearray()
    i = 0
    while i < len(delta):
        op = delta[i]
        i += 1
        if op == 1:
            off, i = varint(delta, i)
            n, i = varint(delta, i)
            check(n > 0 and off + n <= len(old), "copy outside the old value")
            out += old[off:off + n]
        elif op == 2:
            n, i = varint(delta, i)
            check(n > 0 and i + n <= len(delta), "bad insert")
            out += delta[i:i + n]
            i += n
        else:
            raise TestError("unknown opcode %d" % op)
    return bytes(out)


def content_type(m):
    return getattr(m.properties, "ContentType", None) if m.properties else None


class Follower:
    """What a `$delta/` subscriber knows of each topic, rebuilt from what it
    receives."""

    def __init__(self):
        self.values = {}
        self.kinds = {"whole": 0, "patch": 0, "binary": 0}
        self.bytes = 0

    def take(self, topic, ctype, payload):
        check(topic.startswith("$delta/"), "delta form on %r" % topic)
        name = topic[len("$delta/"):]
        self.bytes += len(payload)
        if ctype == PATCH:
            check(name in self.values, "a patch before any value of %s" % name)
            self.values[name] = jsonpatch.apply_patch(self.values[name], json.loads(payload))
            self.kinds["patch"] += 1
        elif ctype == BINARY_DELTA:
            check(name in self.values, "a delta before any value of %s" % name)
            self.values[name] = apply_binary_delta(self.values[name], payload)
            self.kinds["binary"] += 1
        else:
            self.values[name] = json.loads(payload) if ctype == "application/json" else payload
            self.kinds["whole"] += 1
        return self.values[name]


KEYS = ["a", "b", "c/d", "e~f", "ü", "x y", "", "0", "-"]
TEXTS = ["plain", 'quo"te', "back\\slash", "new\nline", "tab\t", "ünïcødé", "😀", "\u0001"]


def leaf(rnd):
    k = rnd.randrange(6)
    if k == 0:
        return rnd.randrange(-10**12, 10**12)
    if k == 1:
        return rnd.choice([0.5, -1.25e-7, 3.0e20, 1e-300])
    if k == 2:
        return rnd.choice(TEXTS) + str(rnd.randrange(1000))
    if k == 3:
        return rnd.choice([True, False, None])
    if k == 4:
        return [leaf(rnd) for _ in range(rnd.randrange(3))]
    return {rnd.choice(KEYS): leaf(rnd) for _ in range(rnd.randrange(3))}


def containers(doc, path=()):
    """Every object and array in `doc`, with its path."""
    out = [(path, doc)]
    items = doc.items() if isinstance(doc, dict) else enumerate(doc)
    for k, v in items:
        if isinstance(v, (dict, list)):
            out += containers(v, path + (k,))
    return out


def mutate(doc, rnd):
    """One to three random edits below "data": change, add or remove a field
    or an array element, or (rarely) replace "data" whole; "pad" keeps the
    document large enough for deltas to pay."""
    if rnd.random() < 0.02:
        doc["data"] = {"fresh": leaf(rnd), "list": [leaf(rnd) for _ in range(5)]}
        return doc
    for _ in range(rnd.randrange(1, 4)):
        _path, c = rnd.choice(containers(doc["data"]))
        op = rnd.randrange(4)
        if isinstance(c, dict):
            if op == 0 and c:
                c[rnd.choice(list(c))] = leaf(rnd)
            elif op < 3 or not c:
                c[rnd.choice(KEYS) + str(rnd.randrange(50))] = leaf(rnd)
            else:
                del c[rnd.choice(list(c))]
        else:
            if op == 0 and c:
                c[rnd.randrange(len(c))] = leaf(rnd)
            elif op < 3 or not c:
                c.insert(rnd.randrange(len(c) + 1), leaf(rnd))
            else:
                del c[rnd.randrange(len(c))]
    return doc


def initial_doc(rnd):
    return {"id": "sensor-1", "pad": "x" * 600,
            "data": {"readings": [leaf(rnd) for _ in range(20)],
                     "meta": {k + str(i): leaf(rnd) for i, k in enumerate(KEYS)}}}


@case(castor_only=True, timeout=120)
def paho_rebuilds_1000_random_json_updates_from_deltas(srv):
    rnd = random.Random(22)
    plain = Client(srv.port, "c22-plain", mqtt.MQTTv5)
    plain.subscribe("delta/doc/#", 1)
    follower = Client(srv.port, "c22-delta", mqtt.MQTTv5)
    follower.subscribe("$delta/delta/doc/#", 1)
    pub = Client(srv.port, "c22-pub", mqtt.MQTTv5)
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = "application/json"
    doc = initial_doc(rnd)
    f = Follower()
    whole_bytes = 0
    for i in range(1000):
        doc = mutate(doc, rnd) if i else doc
        text = json.dumps(doc, ensure_ascii=rnd.random() < 0.5)
        if i == 999:
            pub.publish("delta/doc/a", text.encode(), 1, properties=props)
        else:
            pub.c.publish("delta/doc/a", text.encode(), rnd.choice((0, 1)), properties=props)
    for i in range(1000):
        p = plain.message()
        m = follower.message()
        want = json.loads(p.payload)
        check_eq(m.topic, "$delta/delta/doc/a", "delta topic")
        got = f.take(m.topic, content_type(m), m.payload)
        check(got == want, "update %d: rebuilt %r, published %r" % (i, got, want))
        whole_bytes += len(p.payload)
    # Deltas were used, and they saved bytes: a test that only ever saw
    # whole values would prove nothing.
    check(f.kinds["patch"] > 900, "patches: %r" % f.kinds)
    check(f.bytes < whole_bytes / 3, "delta bytes %d, whole %d" % (f.bytes, whole_bytes))
    print("    %r, %d bytes as received, %d as whole values"
          % (f.kinds, f.bytes, whole_bytes))
    for c in (plain, follower, pub):
        c.disconnect()


@case(castor_only=True, timeout=60)
def text_and_bytes_follow_as_binary_deltas(srv):
    rnd = random.Random(7)
    plain = Client(srv.port, "c22b-plain", mqtt.MQTTv5)
    plain.subscribe("delta/raw/#", 1)
    follower = Client(srv.port, "c22b-delta", mqtt.MQTTv5)
    follower.subscribe("$delta/delta/raw/#", 1)
    pub = Client(srv.port, "c22b-pub", mqtt.MQTTv5)
    text = ("line %d of the log ünï\n" * 40) % tuple(range(40))
    blob = bytes(rnd.randrange(256) for _ in range(2000)) + b"\xff"
    values = {"delta/raw/text": text.encode(), "delta/raw/blob": blob}
    f = Follower()
    for i in range(300):
        topic = rnd.choice(sorted(values))
        v = bytearray(values[topic])
        for _ in range(rnd.randrange(1, 4)):
            at = rnd.randrange(len(v))
            k = rnd.randrange(3)
            if k == 0:
                v[at:at + rnd.randrange(1, 8)] = b""
            elif k == 1:
                v[at:at] = ("ins%d" % i).encode()
            else:
                v[at] = ord("A") + rnd.randrange(26)
        if topic.endswith("blob"):
            v[-1:] = b"\xff"  # never valid UTF-8: stays bytes
        else:
            v = bytearray(v.decode("utf-8", "ignore").encode())  # stays text
        values[topic] = bytes(v)
        pub.publish(topic, values[topic], 1)
        p = plain.message()
        m = follower.message()
        check_eq(m.topic, "$delta/" + p.topic, "delta topic")
        check(content_type(m) != PATCH, "no JSON Patch between texts")
        got = f.take(m.topic, content_type(m), m.payload)
        check(got == p.payload, "update %d of %s rebuilt wrongly" % (i, p.topic))
    check(f.kinds["binary"] > 250, "binary deltas: %r" % f.kinds)
    print("    %r" % f.kinds)
    for c in (plain, follower, pub):
        c.disconnect()


@case(castor_only=True)
def value_first_then_deltas_and_311_gets_whole_values(srv):
    doc = {"name": "pump", "state": "on", "pad": "p" * 200, "n": 0}
    pub = connect(srv.port, "c22c-pub")
    pub.publish("delta/first", json.dumps(doc).encode(), qos=1,
                properties={"content_type": "application/json"})  # not retained
    v5 = connect(srv.port, "c22c-v5")
    v5.subscribe("$delta/delta/first", qos=1)
    p = v5.expect_publish(topic="$delta/delta/first", qos=1, retain=True,
                          content_type="application/json", ack=True)
    check_eq(json.loads(p.payload), doc, "the value comes first")
    v3 = connect(srv.port, "c22c-v3", version=4)
    v3.subscribe("$delta/delta/first", qos=1)
    p = v3.expect_publish(topic="$delta/delta/first", qos=1, ack=True)
    check_eq(json.loads(p.payload), doc, "3.1.1: the value comes first")
    # A retain handling of 2 sends no value first: the first update comes
    # whole, since the subscriber has nothing to apply a delta to.
    rh2 = connect(srv.port, "c22c-rh2")
    rh2.subscribe("$delta/delta/first", qos=1, retain_handling=2)
    have = doc
    for n in range(1, 4):
        doc = dict(doc, n=n)
        pub.publish("delta/first", json.dumps(doc).encode(), qos=1,
                    properties={"content_type": "application/json"})
        p = v5.expect_publish(topic="$delta/delta/first", retain=False,
                              content_type=PATCH, payload_format_indicator=1, ack=True)
        have = jsonpatch.apply_patch(have, json.loads(p.payload))
        check_eq(have, doc, "patched value")
        # MQTT 3.1.1 has no content type to tell a delta from a value: whole.
        p = v3.expect_publish(topic="$delta/delta/first", ack=True)
        check_eq(json.loads(p.payload), doc, "3.1.1 value")
        p = rh2.expect_publish(topic="$delta/delta/first", ack=True)
        if n == 1:
            check_eq(p.props.get("content_type"), "application/json", "first update whole")
            check_eq(json.loads(p.payload), doc, "first update")
        else:
            check_eq(p.props.get("content_type"), PATCH, "then patches")
    # A small value: its patch would not be smaller, it goes whole.
    pub.publish("delta/first", b'{"n": 1}', qos=1, properties={"content_type": "application/json"})
    pub.publish("delta/first", b'{"n": 2}', qos=1, properties={"content_type": "application/json"})
    v5.expect_publish(topic="$delta/delta/first", content_type="application/json", ack=True)
    v5.expect_publish(topic="$delta/delta/first", payload=b'{"n": 2}',
                      content_type="application/json", ack=True)
    v5.expect_nothing(via=pub, topic="delta/first")


@case(castor_only=True)
def a_resumed_session_starts_again_from_a_whole_value(srv):
    """Updates queued while the client was away go out after it comes
    back: the first of them whole (the new connection does not know what
    the client kept), the others as deltas."""
    doc = {"pad": "p" * 300, "n": 0}
    props = {"content_type": "application/json"}
    pub = connect(srv.port, "c22r-pub")
    pub.publish("delta/resume", json.dumps(doc).encode(), qos=1, properties=props)
    c = connect(srv.port, "c22r", clean_start=False, properties={"session_expiry_interval": 60})
    c.subscribe("$delta/delta/resume", qos=1)
    c.expect_publish(topic="$delta/delta/resume", content_type="application/json", ack=True)
    c.send(gen_disconnect())
    c.expect_closed()
    for n in range(1, 4):
        doc["n"] = n
        pub.publish("delta/resume", json.dumps(doc).encode(), qos=1, properties=props)
    c = connect(srv.port, "c22r", clean_start=False, session_present=True,
                properties={"session_expiry_interval": 60})
    p = c.expect_publish(topic="$delta/delta/resume", content_type="application/json", ack=True)
    have = json.loads(p.payload)
    check_eq(have["n"], 1, "first queued update, whole")
    for n in (2, 3):
        p = c.expect_publish(topic="$delta/delta/resume", content_type=PATCH, ack=True)
        have = jsonpatch.apply_patch(have, json.loads(p.payload))
        check_eq(have["n"], n, "then patches")


@case(castor_only=True)
def delta_and_plain_subscriptions_side_by_side(srv):
    c = connect(srv.port, "c22d")
    c.subscribe(["delta/both", "$delta/delta/both"], qos=1, packet_id=2, codes=[1, 1])
    pub = connect(srv.port, "c22d-pub")
    big = {"k": "v" * 300, "n": 0}
    for n in range(3):
        big["n"] = n
        pub.publish("delta/both", json.dumps(big).encode(), qos=1,
                    properties={"content_type": "application/json"})
        got = {}
        for _ in range(2):
            p = c.recv()
            check_eq(p.type, PUBLISH, "packet type")
            c.ack(p)
            got[p.topic] = p
        check_eq(json.loads(got["delta/both"].payload), big, "plain value")
        want = "application/json" if n == 0 else PATCH
        check_eq(got["$delta/delta/both"].props.get("content_type"), want, "delta form %d" % n)
    # Unsubscribing from the delta form leaves the plain subscription.
    c.unsubscribe("$delta/delta/both", packet_id=3, codes=[0])
    pub.publish("delta/both", b"after", qos=1)
    c.expect_publish(topic="delta/both", payload=b"after", ack=True)
    c.expect_nothing(via=pub, topic="delta/both")


@case(castor_only=True, server=False)
def topic_properties_values_only_and_no_value():
    """PUBLISH_VALUES_ONLY: `$delta/` subscribers get whole values only.
    DONT_RETAIN_VALUE: no value is kept (nothing first, nothing to fetch)
    and no deltas; the MQTT retained message keeps MQTT's rules."""
    srv = Server(extra_config="""
topics:
  mapping:
    - {filter: "delta/whole/#", type: json, properties: {PUBLISH_VALUES_ONLY: "true"}}
    - {filter: "delta/none/#", type: json, properties: {DONT_RETAIN_VALUE: "true"}}
""")
    srv.start()
    try:
        pub = connect(srv.port, "c22p-pub")
        doc = {"pad": "p" * 300, "n": 0}
        # delta/free/a is implicit and published without a content type:
        # text, with binary deltas.
        for t in ("delta/whole/a", "delta/none/a", "delta/free/a"):
            pub.publish(t, json.dumps(doc).encode(), qos=1)
        pub.publish("delta/none/r", json.dumps(doc).encode(), qos=1, retain=True)
        c = connect(srv.port, "c22p")
        c.subscribe("$delta/delta/#", qos=1)
        firsts = sorted(c.expect_publish(ack=True).topic for _ in range(2))
        # delta/none/a has no value; delta/none/r only its MQTT retained
        # message, which a `$delta/` subscription does not send (the
        # marker below proves nothing else came first).
        check_eq(firsts, ["$delta/delta/free/a", "$delta/delta/whole/a"], "values first")
        got = c.until_marker(via=pub, topic="delta/mark1")
        check_eq(got, [], "nothing else first")
        # A plain subscriber still gets the retained message.
        plain = connect(srv.port, "c22p-plain")
        plain.subscribe("delta/none/r", qos=1)
        plain.expect_publish(topic="delta/none/r", retain=True)
        for n in (1, 2):
            doc["n"] = n
            for t in ("delta/whole/a", "delta/none/a", "delta/free/a"):
                pub.publish(t, json.dumps(doc).encode(), qos=1)
            got = {}
            for _ in range(3):
                p = c.expect_publish(ack=True)
                got[p.topic] = p.props.get("content_type")
            check_eq(got, {"$delta/delta/whole/a": "application/json",
                           "$delta/delta/none/a": "application/json",
                           "$delta/delta/free/a": BINARY_DELTA}, "forms of update %d" % n)
        # A topic of its own: a second marker on mark1 would be a delta.
        c.expect_nothing(via=pub, topic="delta/mark2")
    finally:
        srv.stop()


@case(castor_only=True)
def delta_names_are_the_servers(srv):
    c = connect(srv.port, "c22e")
    # Nobody publishes into $delta/.
    c.publish("$delta/x", b"v", qos=1, ack=False, packet_id=5)
    check_packet(c.recv(), PUBACK, packet_id=5, reason_code=0x87)
    # A delta filter needs a subject; $castor/ stays the server's.
    c.subscribe(["$delta/", "$delta/$castor/api/#", "$delta/$delta/a", "$delta/$share/g/a"],
                qos=1, packet_id=6, codes=[0x8F, 0x87, 0x8F, 0x8F])
    # A wildcard subject follows the $-rule, and a shared delta
    # subscription is a share group's like any other.
    c.subscribe(["$delta/#", "$share/g/$delta/delta/shared"], qos=1, packet_id=7, codes=[1, 1])
    pub = connect(srv.port, "c22e-pub")
    pub.publish("delta/shared", b"text", qos=1)
    got = sorted((p.topic for p in (c.expect_publish(ack=True), c.expect_publish(ack=True))))
    check_eq(got, ["$delta/delta/shared", "$delta/delta/shared"], "both delta subscriptions")
    c.expect_nothing(via=pub, topic="delta/shared")


if __name__ == "__main__":
    run_cases()
