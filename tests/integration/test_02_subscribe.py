#!/usr/bin/python3
"""SUBSCRIBE / SUBACK, UNSUBSCRIBE / UNSUBACK, wildcards, subscription ids."""

import socket
import time

from mqtt_test import *  # noqa: F401,F403


@case()
def v311_suback_bytes(srv):
    c = connect(srv.port, "c02-v311", version=4)
    c.send(gen_subscribe(7, [("a/b", 0), ("a/+", 1), ("a/#", 2)], version=4))
    expect_packet(c, "suback", b"\x90\x05\x00\x07\x00\x01\x02")
    c.disconnect()


@case()
def v5_suback_codes(srv):
    c = connect(srv.port, "c02-v5")
    c.send(gen_subscribe(9, [("a/b", sub_options(0)), ("a/+", sub_options(1)),
                             ("a/#", sub_options(2))]))
    p = c.expect(SUBACK, packet_id=9)
    check_eq(p.reason_codes, [0, 1, 2], "granted QoS")
    c.disconnect()


@case(overrides={"maximum_qos": 1})
def granted_qos_downgraded_to_server_maximum(srv):
    for version in (5, 4):
        c = connect(srv.port, "c02-maxqos%d" % version, version=version)
        if version == 5:
            check_eq(c.connack.props.get("maximum_qos"), 1, "maximum_qos in CONNACK")
        c.subscribe([("q/2", sub_options(2) if version == 5 else 2)], codes=[1], packet_id=3)
        c.disconnect()


INVALID_FILTERS = ["a/#/b", "a+/b", "#/a", "a/b#", "a/+b", ""]


# SUBACK 0x8F (topic filter invalid). Mosquitto treats an invalid filter as a
# malformed packet and closes the connection instead.
@case()
def v5_invalid_filter_suback_0x8f(srv):
    for i, f in enumerate(INVALID_FILTERS):
        c = connect(srv.port, "c02-inv%d" % i)
        c.send(gen_subscribe(2, [("ok/%d" % i, sub_options(1)), (f, sub_options(1))]))
        p = c.recv()
        check_packet(p, SUBACK, packet_id=2)
        check_eq(p.reason_codes, [1, 0x8F], "codes for %r" % f)
        c.disconnect()


@case()
def v5_invalid_filter_not_subscribed(srv):
    # Refused with SUBACK 0x8F, the filter must not match afterwards.
    pub = connect(srv.port, "c02-pub")
    c = connect(srv.port, "c02-inv")
    c.send(gen_subscribe(2, [("x/#/y", sub_options(0))]))
    p = c.recv()
    check_packet(p, SUBACK, packet_id=2)
    check_eq(p.reason_codes, [0x8F], "SUBACK codes")
    pub.publish("x/a/y", b"no")
    c.expect_nothing("a message for the refused filter", via=pub)
    pub.disconnect()


@case()
def v311_invalid_filter_0x80_or_close(srv):
    c = connect(srv.port, "c02-inv311", version=4)
    c.send(gen_subscribe(4, [("a/#/b", 1)], version=4))
    try:
        p = c.recv()
    except Closed:
        return  # closing is allowed [MQTT-4.8.0-1]
    check_packet(p, SUBACK, packet_id=4)
    check_eq(p.reason_codes, [0x80], "failure code")
    c.disconnect()


@case()
def v5_unsubscribe_codes(srv):
    c = connect(srv.port, "c02-unsub")
    c.subscribe("u/a", 1)
    c.send(gen_unsubscribe(5, ["u/a", "u/never"]))
    p = c.expect(UNSUBACK, packet_id=5)
    check_eq(p.reason_codes, [0x00, 0x11], "UNSUBACK codes")
    # Unsubscribing again: no subscription existed.
    c.send(gen_unsubscribe(6, ["u/a"]))
    p = c.expect(UNSUBACK, packet_id=6)
    check_eq(p.reason_codes, [0x11], "UNSUBACK codes")
    c.disconnect()


@case()
def v311_unsuback_bytes(srv):
    c = connect(srv.port, "c02-unsub311", version=4)
    c.subscribe("u/b", 0, packet_id=1)
    c.send(gen_unsubscribe(0x1234, ["u/b", "u/none"], version=4))
    expect_packet(c, "unsuback", b"\xb0\x02\x12\x34")
    c.disconnect()


@case()
def unsubscribe_stops_delivery(srv):
    for version in (5, 4):
        sub = connect(srv.port, "c02-us-sub%d" % version, version=version)
        pub = connect(srv.port, "c02-us-pub%d" % version, version=version)
        sub.subscribe("stop/me", 0)
        pub.publish("stop/me", b"1")
        sub.expect_publish("stop/me", b"1")
        sub.unsubscribe("stop/me", packet_id=2)
        pub.publish("stop/me", b"2")
        sub.expect_nothing("a message after UNSUBSCRIBE", via=pub)
        sub.disconnect()
        pub.disconnect()


@case()
def wildcard_matching(srv):
    sub = connect(srv.port, "c02-wild")
    sub.subscribe(["w/+/c", "w/a/#"], 0)
    pub = connect(srv.port, "c02-wpub")
    for t in ("w/a/c", "w/b/c", "w/a", "w/a/x/y", "w/b/d", "w/b/c/d", "w"):
        pub.publish(t, t.encode())
    # w/a/c matches both filters: one or two copies are both allowed.
    got = receive_topics(sub, ["w/a/c", "w/b/c", "w/a", "w/a/x/y"], via=pub,
                         may_repeat=["w/a/c"])
    check_eq(sorted(set(got)), sorted(["w/a/c", "w/b/c", "w/a", "w/a/x/y"]), "delivered topics")
    sub.disconnect()
    pub.disconnect()


@case()
def empty_levels_match(srv):
    # 4.7.1: "+" matches an empty level; "sport/#" also matches "sport".
    sub = connect(srv.port, "c02-empty")
    sub.subscribe(["e/+/x", "e/+", "f/#"], 0)
    pub = connect(srv.port, "c02-empty-pub")
    for t in ("e//x", "e/", "e", "f", "f/", "/e/x"):
        pub.publish(t, t.encode())
    got = receive_topics(sub, ["e//x", "e/", "f", "f/"], via=pub)
    check_eq(sorted(got), sorted(["e//x", "e/", "f", "f/"]), "delivered topics")
    sub.disconnect()
    pub.disconnect()


@case()
def dollar_topics_not_matched_by_leading_wildcards(srv):
    # [MQTT-4.7.2-1]
    t = "$castortest/x"
    hash_sub = connect(srv.port, "c02-hash")
    hash_sub.subscribe(["#", "+/x"], 0)
    d_sub = connect(srv.port, "c02-dollar")
    d_sub.subscribe("$castortest/#", 0)
    pub = connect(srv.port, "c02-dpub")
    pub.publish(t, b"d")
    d_sub.expect_publish(t, b"d")
    hash_sub.expect_nothing("a $ topic for # or +/x", via=pub)
    for c in (hash_sub, d_sub, pub):
        c.disconnect()


@case()
def subscription_identifier_delivered(srv):
    sub = connect(srv.port, "c02-sid")
    check(sub.connack.props.get("subscription_identifier_available", 1) == 1,
          "subscription identifiers available")
    sub.subscribe("sid/a", 1, properties={"subscription_identifier": 7})
    sub.subscribe("sid/#", 0, packet_id=2, properties={"subscription_identifier": 300})
    plain = connect(srv.port, "c02-sid-plain")
    plain.subscribe("sid/a", 0)
    pub = connect(srv.port, "c02-sid-pub")
    pub.publish("sid/a", b"x")
    ids = []
    p = sub.expect_publish("sid/a", b"x", ack=True)
    ids += p.props.getall("subscription_identifier")
    # A second copy, if the server sends one per subscription, comes before
    # a marker on the same topic.
    for p2 in sub.until_marker(via=pub, topic="sid/a"):
        check_packet(p2, PUBLISH, topic="sid/a", payload=b"x")
        ids += p2.props.getall("subscription_identifier")
        sub.ack(p2)
    check_eq(sorted(ids), [7, 300], "subscription identifiers")
    p = plain.expect_publish("sid/a", b"x")
    check_eq(p.props.getall("subscription_identifier"), [], "no identifier without one")
    pub.publish("sid/b", b"y")
    p = sub.expect_publish("sid/b", b"y")
    check_eq(p.props.getall("subscription_identifier"), [300], "identifier of sid/#")
    for c in (sub, plain, pub):
        c.disconnect()


@case()
def subscription_identifier_on_retained_message(srv):
    pub = connect(srv.port, "c02-sidr-pub")
    pub.publish("sidr/a", b"kept", qos=1, retain=True)
    sub = connect(srv.port, "c02-sidr")
    sub.subscribe("sidr/+", 0, properties={"subscription_identifier": 42})
    p = sub.expect_publish("sidr/a", b"kept", retain=True)
    check_eq(p.props.getall("subscription_identifier"), [42], "identifier on a retained message")
    sub.disconnect()
    pub.disconnect()


@case()
def subscription_identifier_zero_is_protocol_error(srv):
    # 3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has
    # a value of 0": DISCONNECT 0x82.
    c = connect(srv.port, "c02-sid0")
    c.send(gen_subscribe(1, "z/a", properties=[("subscription_identifier", 0)]))
    c.expect_disconnect(0x82)


@case()
def resubscribe_replaces(srv):
    # [MQTT-3.8.4-3]: a subscription with the same filter replaces the old one.
    sub = connect(srv.port, "c02-resub")
    sub.subscribe("r/a", 0)
    sub.subscribe("r/a", 1, packet_id=2)
    pub = connect(srv.port, "c02-resub-pub")
    pub.publish("r/a", b"m", qos=1)
    sub.expect_publish("r/a", b"m", qos=1, ack=True)
    sub.expect_nothing("a second copy from the replaced subscription", via=pub, topic="r/a")
    sub.disconnect()
    pub.disconnect()


@case()
def subscribe_packet_ids_echoed(srv):
    c = connect(srv.port, "c02-pids")
    for pid in (1, 0x7FFF, 0xFFFF, 42):
        c.subscribe("p/%d" % pid, 0, packet_id=pid)
        c.unsubscribe("p/%d" % pid, packet_id=pid)
    c.disconnect()


@case(overrides={"wildcard_subscription_available": False}, castor_only=True)
def wildcards_unavailable(srv):
    c = connect(srv.port, "c02-nowild")
    check_eq(c.connack.props.get("wildcard_subscription_available"), 0, "advertised")
    c.send(gen_subscribe(1, [("a/+", 0), ("a/b", 0)]))
    p = c.expect(SUBACK, packet_id=1)
    check_eq(p.reason_codes, [0xA2, 0x00], "SUBACK codes")
    c.disconnect()


@case(overrides={"shared_subscription_available": False}, castor_only=True)
def shared_unavailable(srv):
    # 0x9E for a shared subscription; an invalid share name is still an
    # invalid filter (0x8F); 3.1.1 has 0x80 for both.
    c = connect(srv.port, "c02-noshare")
    check_eq(c.connack.props.get("shared_subscription_available"), 0, "advertised")
    c.send(gen_subscribe(1, [("$share/g/a", 0), ("a/b", 0), ("$share/g+/a", 0)]))
    p = c.expect(SUBACK, packet_id=1)
    check_eq(p.reason_codes, [0x9E, 0x00, 0x8F], "SUBACK codes")
    c.disconnect()
    c = connect(srv.port, "c02-noshare4", version=4)
    c.subscribe(["$share/g/a", "a/b", "$share/g+/a"], 0, codes=[0x80, 0x00, 0x80])
    c.disconnect()


@case(overrides={"subscription_identifier_available": False}, castor_only=True)
def subscription_ids_unavailable(srv):
    c = connect(srv.port, "c02-nosid")
    check_eq(c.connack.props.get("subscription_identifier_available"), 0, "advertised")
    c.send(gen_subscribe(1, "a/b", properties={"subscription_identifier": 5}))
    c.expect_disconnect(0xA1)


@case(overrides={"max_subscriptions_per_client": 3}, castor_only=True)
def subscription_quota(srv):
    # Beyond the configured number of subscriptions: 0x97 (quota exceeded)
    # in MQTT 5, 0x80 in 3.1.1. Replacing an existing one is not an addition.
    c = connect(srv.port, "c02-quota")
    c.subscribe(["qa/1", "qa/2", "qa/3"], 0)
    c.subscribe("qa/4", 0, packet_id=2, codes=[0x97])
    c.subscribe("qa/1", 1, packet_id=3, codes=[1])
    c.unsubscribe("qa/2", packet_id=4)
    c.subscribe("qa/4", 0, packet_id=5, codes=[0])
    c.disconnect()
    c = connect(srv.port, "c02-quota4", version=4)
    c.subscribe(["qb/1", "qb/2", "qb/3", "qb/4"], 0, codes=[0, 0, 0, 0x80])
    c.disconnect()


if __name__ == "__main__":
    run_cases()
