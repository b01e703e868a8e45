#!/usr/bin/python3
"""Topic aliases: client -> server mapping and errors; server -> client
aliases when the client allows them."""

from mqtt_test import *  # noqa: F401,F403


def _alias_max(c):
    return c.connack.props.get("topic_alias_maximum", 0)


@case()
def client_alias_set_and_used(srv):
    sub = connect(srv.port, "c10-sub")
    sub.subscribe("ta/#", 1)
    pub = connect(srv.port, "c10-pub")
    check(_alias_max(pub) >= 2, "the server accepts topic aliases: %r" % pub.connack)
    pub.publish("ta/a", b"1", qos=1, properties={"topic_alias": 1})
    sub.expect_publish("ta/a", b"1", ack=True)
    pub.publish("", b"2", qos=1, properties={"topic_alias": 1})
    p = sub.expect_publish("ta/a", b"2", ack=True)
    check_eq(p.props.get("topic_alias"), None, "no alias to a client that allows none")
    # Remap alias 1; alias 2 independent.
    pub.publish("ta/b", b"3", qos=0, properties={"topic_alias": 1})
    pub.publish("ta/c", b"4", qos=0, properties={"topic_alias": 2})
    pub.publish("", b"5", qos=0, properties={"topic_alias": 1})
    pub.publish("", b"6", qos=0, properties={"topic_alias": 2})
    # A topic with an alias property that is already mapped to it.
    pub.publish("ta/c", b"7", qos=0, properties={"topic_alias": 2})
    # Order is guaranteed per topic only (4.6), not across topics.
    got = {}
    for _ in range(5):
        p = sub.expect_publish()
        got.setdefault(p.topic, []).append(p.payload)
    check_eq(got, {"ta/b": [b"3", b"5"], "ta/c": [b"4", b"6", b"7"]}, "messages per topic")
    sub.disconnect()
    pub.disconnect()


@case()
def alias_retained_uses_topic(srv):
    pub = connect(srv.port, "c10-ret")
    pub.publish("ta/ret", b"r", qos=1, retain=True, properties={"topic_alias": 1})
    pub.publish("", b"r2", qos=1, retain=True, properties={"topic_alias": 1})
    sub = connect(srv.port, "c10-ret-sub")
    sub.subscribe("ta/ret", 0)
    sub.expect_publish("ta/ret", b"r2", retain=True)
    sub.disconnect()
    pub.disconnect()


# [MQTT-3.3.2-8]: alias 0 -> DISCONNECT 0x94 (topic alias invalid). Mosquitto
# treats it as a malformed packet (0x81).
@case()
def alias_zero_is_error(srv):
    c = connect(srv.port, "c10-zero")
    c.send(gen_publish("ta/z", 0, b"x", properties={"topic_alias": 0}))
    c.expect_disconnect(0x94)


@case()
def alias_above_maximum_is_error(srv):
    c = connect(srv.port, "c10-above")
    mx = _alias_max(c)
    c.send(gen_publish("ta/z", 0, b"x", properties={"topic_alias": mx + 1}))
    c.expect_disconnect(0x94)


@case(overrides={"topic_alias_maximum": 2})
def configured_alias_maximum(srv):
    c = connect(srv.port, "c10-cfg")
    check_eq(_alias_max(c), 2, "topic_alias_maximum in CONNACK")
    c.publish("ta/ok", b"x", qos=1, properties={"topic_alias": 2})
    c.send(gen_publish("ta/z", 0, b"x", properties={"topic_alias": 3}))
    c.expect_disconnect(0x94)


@case(overrides={"topic_alias_maximum": 0})
def aliases_disabled(srv):
    c = connect(srv.port, "c10-off")
    check_eq(_alias_max(c), 0, "topic_alias_maximum absent or 0")
    c.send(gen_publish("ta/z", 0, b"x", properties={"topic_alias": 1}))
    c.expect_disconnect(0x94)


# 3.3.2.3.4: an empty topic with an alias that has no mapping is a protocol
# error (0x82).
@case()
def unknown_alias_is_protocol_error(srv):
    c = connect(srv.port, "c10-unknown")
    c.send(gen_publish("", 0, b"x", properties={"topic_alias": 1}))
    c.expect_disconnect(0x82)


@case()
def aliases_are_per_connection(srv):
    c = connect(srv.port, "c10-per")
    c.publish("ta/per", b"x", qos=1, properties={"topic_alias": 1})
    c.disconnect()
    c = connect(srv.port, "c10-per")
    c.send(gen_publish("", 0, b"x", properties={"topic_alias": 1}))
    c.expect_disconnect(0x82)


@case()
def empty_topic_without_alias_is_error(srv):
    # 3.3.2.3.4: "It is a Protocol Error if the Topic Name is zero length
    # and there is no Topic Alias": DISCONNECT 0x82.
    c = connect(srv.port, "c10-empty")
    c.send(gen_publish("", 0, b"x"))
    c.expect_disconnect(0x82)


@case()
def server_to_client_aliases(srv):
    # The server may use aliases up to the client's maximum; every PUBLISH
    # must resolve to the right topic, and no alias may exceed the maximum.
    sub = connect(srv.port, "c10-s2c", properties={"topic_alias_maximum": 2})
    sub.subscribe("sa/#", 1)
    pub = connect(srv.port, "c10-s2c-pub")
    seq = ["sa/one", "sa/two", "sa/one", "sa/three", "sa/one", "sa/two", "sa/three", "sa/three"]
    for i, t in enumerate(seq):
        pub.publish(t, b"%d" % i, qos=1, packet_id=i + 1)
    aliases = {}
    used = 0
    per_topic = {}
    for _ in seq:
        p = sub.expect_publish(ack=True)
        a = p.props.get("topic_alias")
        topic = p.topic
        if a is not None:
            used += 1
            check(1 <= a <= 2, "alias within the client's maximum: %d" % a)
            if topic:
                aliases[a] = topic
            else:
                check(a in aliases, "alias %d used before it was set" % a)
                topic = aliases[a]
        else:
            check(topic != "", "an empty topic needs an alias")
        per_topic.setdefault(topic, []).append(int(p.payload))
    # Order is guaranteed per topic only (4.6), not across topics.
    want = {}
    for i, t in enumerate(seq):
        want.setdefault(t, []).append(i)
    check_eq(per_topic, want, "messages per resolved topic")
    print("      (server used a topic alias in %d of %d messages)" % (used, len(seq)))
    sub.disconnect()
    pub.disconnect()


@case()
def retransmission_after_reconnect_has_topic(srv):
    # Aliases end with the connection: a PUBLISH resent on a new connection
    # must carry its topic (or set the alias again) [MQTT-3.3.2-7].
    cid = "c10-resend"
    props = {"topic_alias_maximum": 5, "session_expiry_interval": 60}
    sub = connect(srv.port, cid, clean_start=False, properties=props)
    sub.subscribe("ra/x", 1)
    pub = connect(srv.port, "c10-resend-pub")
    pub.publish("ra/x", b"1", qos=1, packet_id=1)
    pub.publish("ra/x", b"2", qos=1, packet_id=2)
    sub.expect_publish(payload=b"1")
    sub.expect_publish(payload=b"2")
    sub.abort()  # neither acknowledged
    sub = connect(srv.port, cid, clean_start=False, session_present=True, properties=props)
    aliases = {}
    for want in (b"1", b"2"):
        p = sub.expect_publish(payload=want, qos=1, dup=True)
        a = p.props.get("topic_alias")
        if p.topic:
            if a is not None:
                aliases[a] = p.topic
            topic = p.topic
        else:
            check(a in aliases, "alias %r used before it was set on this connection" % a)
            topic = aliases[a]
        check_eq(topic, "ra/x", "topic of the retransmission")
        sub.send(gen_puback(p.packet_id))
    sub.disconnect()
    pub.disconnect()


@case()
def no_server_aliases_without_client_maximum(srv):
    sub = connect(srv.port, "c10-noalias")
    sub.subscribe("sn/#", 0)
    pub = connect(srv.port, "c10-noalias-pub")
    for i in range(5):
        pub.publish("sn/same", b"%d" % i)
    for i in range(5):
        p = sub.expect_publish("sn/same", b"%d" % i)
        check_eq(p.props.get("topic_alias"), None, "topic alias [MQTT-3.3.2-9]")
    sub.disconnect()
    pub.disconnect()


if __name__ == "__main__":
    run_cases()
