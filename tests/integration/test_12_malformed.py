#!/usr/bin/python3
"""Malformed packets and protocol errors: the offending connection is closed
(MQTT 5: after a DISCONNECT with the reason code the spec names, 4.13.1);
a well-behaved client connected throughout keeps receiving and the server
keeps running."""

import random
import struct
import time

from mqtt_test import *  # noqa: F401,F403

MALFORMED, PROTOCOL_ERROR, TOPIC_INVALID, TOO_LARGE = 0x81, 0x82, 0x90, 0x95


class Bystander:
    """A subscriber and a publisher that stay connected during a case."""

    def __init__(self, srv):
        self.sub = connect(srv.port, "c12-bystander-sub")
        self.sub.subscribe("by/#", 1)
        self.pub = connect(srv.port, "c12-bystander-pub", version=4)
        self.n = 0
        self.check()

    def check(self):
        self.n += 1
        self.pub.publish("by/t", b"alive %d" % self.n, qos=1, packet_id=(self.n % 60000) + 1)
        self.sub.expect_publish("by/t", b"alive %d" % self.n, qos=1, ack=True)

    def close(self):
        self.sub.disconnect()
        self.pub.disconnect()


def _string(raw):
    return struct.pack("!H", len(raw)) + raw


def _rejected(srv, data, codes, version=5, connect_first=True, strict=True):
    """Sends data on a fresh connection and expects it to be closed; for v5,
    a DISCONNECT (or CONNACK for a bad CONNECT) whose reason is in codes.
    With strict=False the DISCONNECT may be missing (only checked if sent)."""
    by = Bystander(srv)
    c = Conn(srv.port, version)
    if connect_first:
        c.connect("c12-bad")
    c.send(data)
    got = c.expect_closed(timeout=3)
    replies = [p for p in got if p.type in (DISCONNECT, CONNACK)]
    if version == 5 and replies:
        check(replies[-1].reason_code in codes,
              "%s reason 0x%02x, expected one of %s" % (replies[-1].name, replies[-1].reason_code,
                                                        ["0x%02x" % x for x in codes]))
    elif version == 5 and strict:
        raise TestError("closed without a DISCONNECT (expected reason %s)"
                        % ["0x%02x" % x for x in codes])
    if not connect_first:
        check(not any(p.type == CONNACK and p.reason_code == 0 for p in got),
              "no successful CONNACK: %r" % got)
    by.check()
    by.close()


def _publish_raw(flags, body):
    return bytes([0x30 | flags]) + pack_varint(len(body)) + body


BAD_UTF8 = [b"\xc3\x28", b"a/\xed\xa0\x80", b"a\x00b", b"\xff", b"\xc0\xaf"]

CASES = [
    # name, bytes, accepted reason codes, version, connect first, mosquitto note
    ("remaining_length_5_bytes", b"\x30\xff\xff\xff\xff\x7f", (MALFORMED,), 5, True, None),
    ("string_longer_than_packet", b"\x30\x03\x00\x05a", (MALFORMED,), 5, True, None),
    ("publish_qos3", _publish_raw(0x06, _string(b"a/b") + b"\x00\x01\x00x"), (MALFORMED,), 5, True, None),
    ("publish_qos3_v311", _publish_raw(0x06, _string(b"a/b") + b"\x00\x01x"), (MALFORMED,), 4, True, None),
    ("subscribe_reserved_flags", b"\x80\x08\x00\x01\x00\x00\x03a/b\x00", (MALFORMED,), 5, True, None),
    ("subscribe_reserved_flags_v311", b"\x80\x07\x00\x01\x00\x03a/b\x00", (MALFORMED,), 4, True, None),
    ("unsubscribe_reserved_flags", b"\xa0\x08\x00\x01\x00\x00\x03a/b", (MALFORMED,), 5, True, None),
    ("pubrel_reserved_flags", b"\x60\x02\x00\x01", (MALFORMED,), 5, True, None),
    ("pingreq_reserved_flags", b"\xc1\x00", (MALFORMED,), 5, True, None),
    ("reserved_packet_type_0", b"\x00\x00", (MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("connack_from_client", b"\x20\x03\x00\x00\x00", (MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("subscription_options_reserved_bits", gen_subscribe(1, [("a/b", 0xC0)]), (MALFORMED,), 5, True, None),
    ("subscribe_without_filters", b"\x82\x03\x00\x01\x00", (MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("unsubscribe_without_filters", b"\xa2\x03\x00\x01\x00", (MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("publish_topic_with_plus", gen_publish("a/+/b", 0, b"x"), (TOPIC_INVALID, MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("publish_topic_with_hash", gen_publish("a/#", 1, b"x", packet_id=1), (TOPIC_INVALID, MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("publish_topic_wildcard_v311", gen_publish("a/#", 0, b"x", version=4), (), 4, True, None),
    ("publish_packet_id_zero", gen_publish("a/b", 1, b"x", packet_id=0), (MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("publish_qos0_with_dup", gen_publish("a/b", 0, b"x", dup=True), (MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("duplicate_property", gen_publish("a/b", 0, b"x", properties=[("content_type", "a"), ("content_type", "b")]),
     (PROTOCOL_ERROR, MALFORMED), 5, True, None),
    ("unknown_property", _publish_raw(0, _string(b"a/b") + b"\x02\x7f\x00x"), (MALFORMED,), 5, True, None),
    ("property_not_allowed_in_publish", gen_publish("a/b", 0, b"x", properties={"session_expiry_interval": 5}),
     (MALFORMED, PROTOCOL_ERROR), 5, True, None),
    ("property_length_beyond_packet", _publish_raw(0, _string(b"a/b") + b"\x10\x01"), (MALFORMED,), 5, True, None),
    ("connect_reserved_flag", gen_connect("c12-x", connect_flags=0x03), (MALFORMED,), 5, False, None),
    ("connect_will_qos3", gen_connect("c12-x", connect_flags=0x1e), (MALFORMED,), 5, False, None),
    ("connect_will_retain_without_will", gen_connect("c12-x", connect_flags=0x22), (MALFORMED,), 5, False, None),
    ("connect_password_without_username_v311", gen_connect("c12-x", version=4, connect_flags=0x42) + b"\x00\x02pw",
     (), 4, False, None),
    ("connect_client_id_bad_utf8", packet(CONNECT, 0, _string(b"MQTT") + b"\x05\x02\x00\x3c\x00" + _string(b"\xc3\x28")),
     (MALFORMED, 0x85), 5, False, None),
    ("puback_too_short", b"\x40\x01\x00", (MALFORMED,), 5, True, None),
    ("publish_qos1_without_packet_id", _publish_raw(0x02, _string(b"a/b")), (MALFORMED,), 5, True, None),
    ("subscription_identifier_5_byte_varint",
     b"\x82\x0f\x00\x01\x06\x0b\xff\xff\xff\xff\x01" + _string(b"a/b") + b"\x00",
     (MALFORMED,), 5, True, None),
    ("auth_without_authentication_method", b"\xf0\x02\x18\x00", (PROTOCOL_ERROR, MALFORMED), 5, True, None),
    ("huge_remaining_length", b"\x30\xff\xff\xff\x7f" + b"\x00" * 100, (TOO_LARGE, MALFORMED), 5, True, None),
]
for i, t in enumerate(BAD_UTF8):
    CASES.append(("publish_topic_bad_utf8_%d" % i, _publish_raw(0, _string(t) + b"\x00x"),
                  (MALFORMED, TOPIC_INVALID), 5, True, None))
    CASES.append(("subscribe_filter_bad_utf8_%d" % i,
                  b"\x82" + pack_varint(2 + 1 + 2 + len(t) + 1) + b"\x00\x01\x00" + _string(t) + b"\x00",
                  (MALFORMED,), 5, True, None))

# Mosquitto 2.0.11 closes the connection without sending a DISCONNECT for
# most malformed packets (4.13.1 says the server SHOULD send one); those
# cases still pass against Mosquitto when checked without the DISCONNECT.
# The strict variant (DISCONNECT required) is marked as a known difference.
STRICT_XDIFF = "closes without DISCONNECT or with another reason code"

# Packets Mosquitto 2.0.11 accepts although the spec calls them malformed
# (fixed header flags of PINGREQ, DUP on QoS 0) or waits for (a 256 MB packet: it has no maximum packet size
# by default). Left out of the lenient check for Mosquitto only.
MOSQUITTO_ACCEPTS = {"pingreq_reserved_flags", "publish_qos0_with_dup",
                     "huge_remaining_length"}


def _make(name, data, codes, version, connect_first):
    # For a bad CONNECT the CONNACK with a reason code is optional (4.13.1
    # "MAY"); after CONNECT the DISCONNECT is what the spec asks (SHOULD).
    def strict(srv):
        _rejected(srv, data, codes, version, connect_first, strict=connect_first)
    return strict


for name, data, codes, version, connect_first, _note in CASES:
    fn = _make(name, data, codes, version, connect_first)
    fn.__name__ = name
    # Against Mosquitto a failure is an expected difference; against Castor
    # every case must pass with the DISCONNECT.
    case(name=name, mosquitto_differs=STRICT_XDIFF)(fn)


@case()
def connection_closed_for_every_malformed_packet(srv):
    # The lenient check for every broker: each bad packet closes its
    # connection and never affects the bystanders.
    by = Bystander(srv)
    for name, data, codes, version, connect_first, _note in CASES:
        if IS_MOSQUITTO and name in MOSQUITTO_ACCEPTS:
            continue
        c = Conn(srv.port, version)
        if connect_first:
            c.connect("c12-bad-" + name)
        c.send(data)
        try:
            got = c.expect_closed(timeout=3)
        except TestError as e:
            raise TestError("%s: %s" % (name, e))
        check(not any(p.type == CONNACK and p.reason_code == 0 for p in got) or connect_first,
              "%s: no successful CONNACK" % name)
        by.check()
    by.close()


@case()
def random_garbage_does_not_hurt(srv):
    by = Bystander(srv)
    rnd = random.Random(12345)
    for i in range(60):
        c = Conn(srv.port, 5)
        if i % 2:
            c.connect("c12-garbage%d" % i)
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
        try:
            c.send(data)
            c.sock.settimeout(0.05)
            try:
                c.sock.recv(4096)
            except OSError:
                pass
        except OSError:
            pass
        c.abort()
        if i % 10 == 9:
            by.check()
    by.check()
    by.close()


@case()
def truncated_packets_then_close(srv):
    by = Bystander(srv)
    full = gen_publish("a/b", 1, b"x" * 100, packet_id=1, properties={"content_type": "t"})
    for cut in (1, 2, 5, 20, len(full) - 1):
        c = connect(srv.port, "c12-trunc%d" % cut)
        c.send(full[:cut])
        time.sleep(0.02)
        c.abort()
    by.check()
    by.close()


if __name__ == "__main__":
    run_cases()
