#!/usr/bin/python3
"""MQTT 5 properties end to end: application properties, message expiry,
no local, maximum packet size, receive maximum."""

import time

from mqtt_test import *  # noqa: F401,F403


def _pair(srv, tag, topic, qos=1, sub_props=None, version=5, **opts):
    sub = connect(srv.port, "c09-sub-" + tag, version=version, properties=sub_props)
    sub.subscribe(topic, qos, **opts)
    pub = connect(srv.port, "c09-pub-" + tag)
    return sub, pub


@case()
def application_properties_passed_through(srv):
    sub, pub = _pair(srv, "app", "p/app")
    props = [("payload_format_indicator", 1), ("content_type", "application/json"),
             ("response_topic", "p/app/reply"), ("correlation_data", bytes(range(20))),
             ("user_property", ("a", "1")), ("user_property", ("b", "2")),
             ("user_property", ("a", "3")), ("user_property", ("", "empty key"))]
    for qos in (0, 1, 2):
        pub.publish("p/app", b'{"x": %d}' % qos, qos=qos, properties=props)
        p = sub.expect_publish("p/app", b'{"x": %d}' % qos, ack=True, payload_format_indicator=1,
                               content_type="application/json", response_topic="p/app/reply",
                               correlation_data=bytes(range(20)))
        check_eq(p.props.getall("user_property"),
                 [("a", "1"), ("b", "2"), ("a", "3"), ("", "empty key")],
                 "user properties, order kept [MQTT-3.3.2-18]")
    sub.disconnect()
    pub.disconnect()


@case()
def properties_dropped_for_v311_subscriber(srv):
    sub, pub = _pair(srv, "v4", "p/v4", version=4)
    pub.publish("p/v4", b"plain", qos=1, properties=[("user_property", ("k", "v")),
                                                     ("content_type", "text/plain")])
    raw_expected_prefix = gen_publish("p/v4", 1, b"plain", packet_id=1, version=4)
    p = sub.expect_publish("p/v4", b"plain", qos=1, ack=True)
    check_eq(len(p.raw), len(raw_expected_prefix), "a 3.1.1 PUBLISH without properties")
    sub.disconnect()
    pub.disconnect()


@case()
def message_expiry_remaining_forwarded(srv):
    cid = "c09-exp"
    sub = connect(srv.port, cid, clean_start=False, properties={"session_expiry_interval": 60})
    sub.subscribe("p/exp", 1)
    sub.disconnect()
    pub = connect(srv.port, "c09-exp-pub")
    pub.publish("p/exp", b"short", qos=1, packet_id=1, properties={"message_expiry_interval": 1})
    pub.publish("p/exp", b"long", qos=1, packet_id=2, properties={"message_expiry_interval": 60})
    time.sleep(2.2)
    sub = connect(srv.port, cid, clean_start=False, session_present=True,
                  properties={"session_expiry_interval": 60})
    p = sub.expect_publish("p/exp", b"long", qos=1, ack=True)
    mei = p.props.get("message_expiry_interval")
    # [MQTT-3.3.2-6]: the remaining lifetime, about 58 s here.
    check(mei is not None and 55 <= mei <= 58, "remaining expiry interval: %r" % mei)
    sub.expect_nothing("the expired message", topic="p/exp")
    sub.disconnect()
    pub.disconnect()


@case()
def message_expiry_live_delivery(srv):
    sub, pub = _pair(srv, "live", "p/live")
    pub.publish("p/live", b"x", qos=1, properties={"message_expiry_interval": 30})
    p = sub.expect_publish("p/live", b"x", ack=True)
    mei = p.props.get("message_expiry_interval")
    check(mei is not None and 29 <= mei <= 30, "expiry forwarded: %r" % mei)
    pub.publish("p/live", b"y", qos=1)
    p = sub.expect_publish("p/live", b"y", ack=True)
    check_eq(p.props.get("message_expiry_interval"), None, "no expiry when none was set")
    sub.disconnect()
    pub.disconnect()


@case()
def retained_message_expires(srv):
    pub = connect(srv.port, "c09-rexp")
    pub.publish("p/rexp", b"brief", qos=1, retain=True, properties={"message_expiry_interval": 1})
    pub.publish("p/rkeep", b"kept", qos=1, retain=True, properties={"message_expiry_interval": 100})
    time.sleep(2.2)
    sub = connect(srv.port, "c09-rexp-sub")
    sub.subscribe(["p/rexp", "p/rkeep"], 0)
    p = sub.expect_publish("p/rkeep", b"kept", retain=True)
    mei = p.props.get("message_expiry_interval")
    check(mei is not None and 95 <= mei <= 98, "remaining expiry of a retained message: %r" % mei)
    sub.expect_nothing("an expired retained message", via=pub, topic="p/rexp")
    sub.disconnect()
    pub.disconnect()


@case()
def no_local(srv):
    c = connect(srv.port, "c09-nolocal")
    c.subscribe("p/nl", 1, no_local=True)
    other = connect(srv.port, "c09-nolocal-other")
    other.subscribe("p/nl", 1, no_local=True)
    c.publish("p/nl", b"mine", qos=1)
    other.expect_publish("p/nl", b"mine", ack=True)  # the topic has fanned it out
    c.expect_nothing("own message with no local", via=other, topic="p/nl")
    other.publish("p/nl", b"theirs", qos=1)
    c.expect_publish("p/nl", b"theirs", ack=True)
    c.disconnect()
    other.disconnect()


# [MQTT-3.8.3-4]: no local on a shared subscription is a protocol error.
# Mosquitto accepts it.
@case()
def no_local_on_shared_subscription_is_protocol_error(srv):
    c = connect(srv.port, "c09-nlshare")
    c.send(gen_subscribe(1, [("$share/g/p/x", sub_options(0, no_local=True))]))
    got = c.expect_closed(timeout=2)
    check(not any(p.type == SUBACK for p in got), "no SUBACK: %r" % got)


@case()
def client_maximum_packet_size(srv):
    # [MQTT-3.1.2-25]: a packet larger than the client's maximum is not sent
    # (it is discarded as if delivered).
    sub, pub = _pair(srv, "mps", "p/mps", sub_props={"maximum_packet_size": 200})
    pub.publish("p/mps", b"x" * 500, qos=1, packet_id=1)
    pub.publish("p/mps", b"small", qos=1, packet_id=2)
    sub.expect_publish("p/mps", b"small", ack=True)
    sub.expect_nothing("the packet over the client's maximum", via=pub, topic="p/mps")
    sub.disconnect()
    pub.disconnect()


# The limit counts the whole packet: 200 bytes exactly is allowed, 201 not.
# Mosquitto 2.0.11 sends a packet one byte over the client's maximum.
@case()
def client_maximum_packet_size_boundary(srv):
    sub, pub = _pair(srv, "mpsb", "p/mps", sub_props={"maximum_packet_size": 200})
    payload_len = 200 - len(gen_publish("p/mps", 1, b"", packet_id=1))
    while len(gen_publish("p/mps", 1, b"y" * payload_len, packet_id=1)) > 200:
        payload_len -= 1  # the remaining length takes a second byte
    check_eq(len(gen_publish("p/mps", 1, b"y" * payload_len, packet_id=1)), 200, "packet size")
    pub.publish("p/mps", b"y" * payload_len, qos=1, packet_id=3)
    sub.expect_publish("p/mps", b"y" * payload_len, ack=True)
    pub.publish("p/mps", b"y" * (payload_len + 1), qos=1, packet_id=4)
    sub.expect_nothing("a 201-byte packet", via=pub, topic="p/mps")
    sub.disconnect()
    pub.disconnect()


@case(overrides={"max_packet_size": 2000})
def server_maximum_packet_size(srv):
    c = connect(srv.port, "c09-smps")
    check_eq(c.connack.props.get("maximum_packet_size"), 2000, "advertised")
    c.publish("p/smps", b"z" * 1500, qos=1)
    c.send(gen_publish("p/smps", 1, b"z" * 3000, packet_id=2))
    # [MQTT-3.2.2-15] / 4.13: DISCONNECT 0x95 (packet too large).
    c.expect_disconnect(0x95)


# [MQTT-3.3.4-7]: never more than the client's receive maximum unacknowledged
# QoS 1/2 PUBLISH packets. Mosquitto 2.0.11 sends a burst past it after the
# first PUBACK.
@case()
def receive_maximum_limits_inflight(srv):
    sub, pub = _pair(srv, "rm", "p/rm", sub_props={"receive_maximum": 3})
    for i in range(10):
        pub.publish("p/rm", b"%d" % i, qos=1, packet_id=i + 1)
    # The publisher has its PUBACKs: all ten wait for the subscriber, and
    # a 4th would follow the 3rd at once. (No marker: while the quota is 0 a
    # server may hold QoS 0 back too, 4.9.)
    got = [sub.expect_publish("p/rm", b"%d" % i, qos=1) for i in range(3)]
    sub.expect_quiet(0.4, "a 4th unacknowledged message")
    sub.send(gen_puback(got[0].packet_id))
    p = sub.expect_publish("p/rm", b"3", qos=1)
    sub.expect_quiet(0.3, "a 4th in-flight message")
    for q in got[1:] + [p]:
        sub.send(gen_puback(q.packet_id))
    for i in range(4, 10):
        sub.expect_publish("p/rm", b"%d" % i, qos=1, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def receive_maximum_counts_qos2(srv):
    sub, pub = _pair(srv, "rm2", "p/rm2", qos=2, sub_props={"receive_maximum": 2})
    for i in range(5):
        pub.publish("p/rm2", b"%d" % i, qos=2, packet_id=i + 1)
    a = sub.expect_publish("p/rm2", b"0", qos=2)
    b = sub.expect_publish("p/rm2", b"1", qos=2)
    sub.expect_quiet(0.4, "a 3rd in-flight QoS 2 message")  # queued already, see above
    sub.send(gen_pubrec(a.packet_id))
    expect_ack(sub, PUBREL, a.packet_id)
    sub.expect_quiet(0.3, "a message before PUBCOMP")  # still in flight until PUBCOMP
    sub.send(gen_pubcomp(a.packet_id))
    sub.expect_publish("p/rm2", b"2", qos=2, ack=True)
    sub.ack(b)
    for i in (3, 4):
        sub.expect_publish("p/rm2", b"%d" % i, qos=2, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def request_problem_information_zero(srv):
    # [MQTT-3.1.2-29]: no reason string or user property on packets other
    # than PUBLISH, CONNACK and DISCONNECT.
    c = connect(srv.port, "c09-rpi", properties={"request_problem_information": 0})
    p = c.subscribe("ok/x", 1)
    check_eq(p.props, [], "SUBACK properties")
    c.send(gen_unsubscribe(2, ["never/subscribed"]))  # 0x11: no subscription
    p = c.expect(UNSUBACK, packet_id=2)
    check_eq(p.props, [], "UNSUBACK properties")
    c.send(gen_publish("rpi/nobody", 1, b"x", packet_id=3))  # maybe 0x10
    p = c.expect(PUBACK, packet_id=3)
    check_eq(p.props, [], "PUBACK properties")
    c.send(gen_pubrel(77))  # unknown id: PUBCOMP, maybe 0x92
    p = c.expect(PUBCOMP, packet_id=77)
    check_eq(p.props, [], "PUBCOMP properties")
    c.disconnect()


@case()
def receive_maximum_zero_is_protocol_error(srv):
    # 3.1.2.11.3: "It is a Protocol Error to include the Receive Maximum
    # value of 0": CONNACK 0x82, then the close.
    c = Conn(srv.port)
    c.send(gen_connect("c09-rm0", properties={"receive_maximum": 0}))
    c.expect(CONNACK, reason_code=0x82)
    c.expect_closed()


# [MQTT-3.3.4-9]: more unacknowledged QoS 1/2 PUBLISH than the server's
# receive maximum -> DISCONNECT 0x93. Mosquitto answers PUBREC 0x97 instead.
@case()
def server_receive_maximum_enforced(srv):
    c = connect(srv.port, "c09-srm")
    rm = c.connack.props.get("receive_maximum", 65535)
    if rm > 1000:
        raise Skip("receive maximum %d too large to exceed here" % rm)
    for i in range(rm + 1):
        c.send(gen_publish("p/srm", 2, b"x", packet_id=i + 1))
    got = c.expect_closed(timeout=3)
    check(any(p.type == DISCONNECT and p.reason_code == 0x93 for p in got),
          "DISCONNECT 0x93: %r" % [p for p in got if p.type != PUBREC])


if __name__ == "__main__":
    run_cases()
