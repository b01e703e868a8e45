#!/usr/bin/python3
"""Retained messages: storage, delivery on subscribe, retain handling, retain
as published, deletion, wildcards."""

from mqtt_test import *  # noqa: F401,F403


@case()
def retained_delivered_on_subscribe(srv):
    for v in (5, 4):
        t = "r/basic%d" % v
        pub = connect(srv.port, "c06-pub%d" % v, version=v)
        pub.publish(t, b"kept", qos=1, retain=True)
        pub.disconnect()
        sub = connect(srv.port, "c06-sub%d" % v, version=v)
        sub.subscribe(t, 1)
        sub.expect_publish(t, b"kept", qos=1, retain=True, ack=True)
        sub.expect_nothing("a second retained copy", topic=t)
        sub.disconnect()


@case()
def live_message_retain_flag_cleared(srv):
    # [MQTT-3.3.1-12]: retain as published = 0 -> RETAIN 0 on live delivery.
    for v in (5, 4):
        t = "r/live%d" % v
        sub = connect(srv.port, "c06-lsub%d" % v, version=v)
        sub.subscribe(t, 0)
        pub = connect(srv.port, "c06-lpub%d" % v, version=v)
        pub.publish(t, b"now", retain=True)
        sub.expect_publish(t, b"now", retain=False)
        sub.disconnect()
        pub.disconnect()


@case()
def retain_as_published(srv):
    sub = connect(srv.port, "c06-rap")
    sub.subscribe("r/rap", 0, retain_as_published=True)
    sub.subscribe("r/norap", 0, packet_id=2)
    pub = connect(srv.port, "c06-rap-pub")
    pub.publish("r/rap", b"a", retain=True)
    sub.expect_publish("r/rap", b"a", retain=True)
    pub.publish("r/rap", b"b", retain=False)
    sub.expect_publish("r/rap", b"b", retain=False)
    pub.publish("r/norap", b"c", retain=True)
    sub.expect_publish("r/norap", b"c", retain=False)
    sub.disconnect()
    pub.disconnect()


@case()
def retain_handling(srv):
    pub = connect(srv.port, "c06-rh-pub")
    pub.publish("r/rh", b"v", qos=1, retain=True)
    sub = connect(srv.port, "c06-rh")
    # 0: sent at every subscribe, also when the subscription exists.
    sub.subscribe("r/rh", 0, retain_handling=0)
    sub.expect_publish("r/rh", b"v", retain=True)
    sub.subscribe("r/rh", 0, packet_id=2, retain_handling=0)
    sub.expect_publish("r/rh", b"v", retain=True)
    sub.unsubscribe("r/rh", packet_id=3)
    # 1: only if the subscription did not exist.
    sub.subscribe("r/rh", 0, packet_id=4, retain_handling=1)
    sub.expect_publish("r/rh", b"v", retain=True)
    sub.subscribe("r/rh", 0, packet_id=5, retain_handling=1)
    sub.expect_nothing("retained message for an existing subscription", via=pub, topic="r/rh")
    sub.unsubscribe("r/rh", packet_id=6)
    # 2: never.
    sub.subscribe("r/rh", 0, packet_id=7, retain_handling=2)
    sub.expect_nothing("retained message with retain handling 2", via=pub, topic="r/rh")
    # Live messages still flow with retain handling 2.
    pub.publish("r/rh", b"w", qos=1)
    sub.expect_publish("r/rh", b"w", retain=False)
    sub.disconnect()
    pub.disconnect()


@case()
def retain_handling_3_is_protocol_error(srv):
    # 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
    c = connect(srv.port, "c06-rh3")
    c.send(gen_subscribe(1, [("r/x", 0x30)]))
    c.expect_disconnect(0x82)


@case()
def delete_by_empty_payload(srv):
    pub = connect(srv.port, "c06-del-pub")
    pub.publish("r/del", b"old", qos=1, retain=True)
    live = connect(srv.port, "c06-del-live")
    live.subscribe("r/del", 0)
    live.expect_publish("r/del", b"old", retain=True)
    pub.publish("r/del", b"", qos=1, retain=True)
    # The empty message is delivered to current subscribers as usual.
    live.expect_publish("r/del", b"")
    sub = connect(srv.port, "c06-del-sub")
    sub.subscribe("r/del", 0)
    sub.expect_nothing("retained message after deletion", via=pub, topic="r/del")
    for c in (pub, live, sub):
        c.disconnect()


@case()
def replaced_by_newer(srv):
    pub = connect(srv.port, "c06-rep")
    for i in range(5):
        pub.publish("r/rep", b"%d" % i, qos=1, retain=True)
    sub = connect(srv.port, "c06-rep-sub")
    sub.subscribe("r/rep", 0)
    sub.expect_publish("r/rep", b"4", retain=True)
    sub.expect_nothing("an older retained message", via=pub, topic="r/rep")
    pub.disconnect()
    sub.disconnect()


@case()
def retained_on_wildcard_subscribe(srv):
    pub = connect(srv.port, "c06-wild-pub")
    topics = ["rw/a", "rw/b/c", "rw/b/d", "rw/e/f/g", "other/x"]
    for t in topics:
        pub.publish(t, t.encode(), qos=1, retain=True)
    sub = connect(srv.port, "c06-wild-sub")
    sub.subscribe("rw/#", 1)
    got = {}
    for _ in range(4):
        p = sub.expect_publish(retain=True, ack=True)
        got[p.topic] = p.payload
    check_eq(got, {t: t.encode() for t in topics[:4]}, "retained messages")
    sub.expect_nothing("a retained message outside rw/#", via=pub)
    sub2 = connect(srv.port, "c06-wild-sub2")
    sub2.subscribe("rw/+/d", 0)
    sub2.expect_publish("rw/b/d", b"rw/b/d", retain=True)
    sub2.expect_nothing("a retained message outside rw/+/d", via=pub)
    for c in (pub, sub, sub2):
        c.disconnect()


@case()
def retained_qos_is_min_of_both(srv):
    pub = connect(srv.port, "c06-q")
    pub.publish("r/q1", b"one", qos=1, retain=True)
    pub.publish("r/q2", b"two", qos=2, retain=True)
    pub.publish("r/q0", b"zero", qos=0, retain=True)
    pub.ping()
    s0 = connect(srv.port, "c06-q-s0")
    s0.subscribe("r/q1", 0)
    s0.expect_publish("r/q1", b"one", qos=0, retain=True)
    s1 = connect(srv.port, "c06-q-s1")
    s1.subscribe("r/q2", 1)
    s1.expect_publish("r/q2", b"two", qos=1, retain=True, ack=True)
    s2 = connect(srv.port, "c06-q-s2")
    s2.subscribe("r/q0", 2)
    s2.expect_publish("r/q0", b"zero", qos=0, retain=True)
    for c in (pub, s0, s1, s2):
        c.disconnect()


@case()
def retained_survives_publisher_disconnect_and_is_per_topic(srv):
    pub = connect(srv.port, "c06-per", version=4)
    pub.publish("r/per/a", b"A", qos=1, retain=True)
    pub.publish("r/per/b", b"B", qos=1, retain=True)
    pub.abort()
    sub = connect(srv.port, "c06-per-sub", version=4)
    sub.subscribe("r/per/b", 0)
    sub.expect_publish("r/per/b", b"B", retain=True)
    sub.expect_nothing("the retained message of r/per/a", topic="r/per/b")
    sub.disconnect()


@case(overrides={"retain_available": False})
def retain_unavailable(srv):
    c = connect(srv.port, "c06-noret")
    check_eq(c.connack.props.get("retain_available"), 0, "retain_available in CONNACK")
    c.send(gen_publish("r/no", 1, b"x", retain=True, packet_id=1))
    # [MQTT-3.3.1-11]: DISCONNECT 0x9A (retain not supported).
    c.expect_disconnect(0x9A)


if __name__ == "__main__":
    run_cases()
