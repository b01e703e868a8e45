#!/usr/bin/python3
"""QoS 2 publish: PUBREC/PUBREL/PUBCOMP both ways, exactly once, downgrade."""

from mqtt_test import *  # noqa: F401,F403


def _pair(srv, tag, sub_version=5, pub_version=5, topic="q2/t", qos=2):
    sub = connect(srv.port, "c05-sub-" + tag, version=sub_version)
    sub.subscribe(topic, qos)
    pub = connect(srv.port, "c05-pub-" + tag, version=pub_version)
    return sub, pub


@case()
def v311_flow_bytes(srv):
    sub, pub = _pair(srv, "b", 4, 4, topic="q2/b")
    pub.send(gen_publish("q2/b", 2, b"x", packet_id=0x0A0B, version=4))
    expect_packet(pub, "pubrec", b"\x50\x02\x0a\x0b")
    pub.send(gen_pubrel(0x0A0B, version=4))
    expect_packet(pub, "pubcomp", b"\x70\x02\x0a\x0b")
    p = sub.expect_publish("q2/b", b"x", qos=2)
    sub.send(gen_pubrec(p.packet_id, version=4))
    expect_packet(sub, "pubrel", gen_pubrel(p.packet_id, version=4))
    sub.send(gen_pubcomp(p.packet_id, version=4))
    sub.expect_nothing("a packet after PUBCOMP", via=pub, topic="q2/b")
    sub.disconnect()
    pub.disconnect()


@case()
def end_to_end_all_versions(srv):
    for sv in (5, 4):
        for pv in (5, 4):
            tag = "%d%d" % (sv, pv)
            sub, pub = _pair(srv, tag, sv, pv, topic="q2/" + tag)
            pub.publish("q2/" + tag, b"m" + tag.encode(), qos=2, packet_id=4)
            p = sub.expect_publish("q2/" + tag, b"m" + tag.encode(), qos=2, dup=False)
            sub.ack(p)  # PUBREC, expects PUBREL, PUBCOMP
            sub.expect_nothing("a packet after PUBCOMP", via=pub, topic="q2/" + tag)
            sub.disconnect()
            pub.disconnect()


@case()
def delivered_once_before_pubrel(srv):
    # Method B of 4.3.3: the message may be delivered once PUBREC is sent;
    # the duplicate PUBLISH (DUP=1, same id) must not be delivered again.
    sub, pub = _pair(srv, "once", topic="q2/once")
    pub.send(gen_publish("q2/once", 2, b"one", packet_id=5))
    expect_ack(pub, PUBREC, 5)
    pub.send(gen_publish("q2/once", 2, b"one", packet_id=5, dup=True))
    expect_ack(pub, PUBREC, 5)
    pub.send(gen_pubrel(5))
    expect_ack(pub, PUBCOMP, 5)
    p = sub.expect_publish("q2/once", b"one", qos=2)
    sub.ack(p)
    sub.expect_nothing("duplicate delivery", via=pub, topic="q2/once")
    # The id is free again: a new message with it is delivered.
    pub.publish("q2/once", b"two", qos=2, packet_id=5)
    sub.expect_publish("q2/once", b"two", qos=2, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def pubrel_retransmitted_is_answered(srv):
    sub, pub = _pair(srv, "rel", topic="q2/rel")
    pub.send(gen_publish("q2/rel", 2, b"r", packet_id=6))
    expect_ack(pub, PUBREC, 6)
    pub.send(gen_pubrel(6))
    expect_ack(pub, PUBCOMP, 6)
    # A repeated PUBREL gets a PUBCOMP [MQTT-4.3.3-11]; the id is not known
    # any more: 0x92 (packet identifier not found, 3.7.2.1).
    pub.send(gen_pubrel(6))
    p = pub.recv()
    check_packet(p, PUBCOMP, packet_id=6)
    check_eq(p.reason_code, 0x92, "PUBCOMP reason for a repeated PUBREL")
    sub.expect_publish("q2/rel", b"r", ack=True)
    sub.expect_nothing("a second delivery", via=pub, topic="q2/rel")
    sub.disconnect()
    pub.disconnect()


# 3.7.2.1: PUBCOMP 0x92 (packet identifier not found) for a PUBREL whose id
# is not known. Mosquitto answers 0x00.
@case()
def v5_pubrel_unknown_id(srv):
    pub = connect(srv.port, "c05-unknown")
    pub.send(gen_pubrel(999))
    p = pub.recv()
    check_packet(p, PUBCOMP, packet_id=999)
    check_eq(p.reason_code, 0x92, "PUBCOMP reason for an unknown id")
    pub.disconnect()


@case()
def downgrade(srv):
    for qos in (0, 1):
        sub, pub = _pair(srv, "d%d" % qos, topic="q2/d%d" % qos, qos=qos)
        pub.publish("q2/d%d" % qos, b"d", qos=2, packet_id=2)
        sub.expect_publish("q2/d%d" % qos, b"d", qos=qos, ack=True)
        sub.expect_nothing("a second delivery", via=pub, topic="q2/d%d" % qos)
        sub.disconnect()
        pub.disconnect()


@case()
def subscriber_side_pubrel_flags_and_ids(srv):
    sub, pub = _pair(srv, "ids", topic="q2/ids")
    n = 8
    for i in range(n):
        pub.publish("q2/ids", b"%d" % i, qos=2, packet_id=i + 1)
    pubs = [sub.expect_publish("q2/ids", b"%d" % i, qos=2) for i in range(n)]
    ids = [p.packet_id for p in pubs]
    check_eq(len(set(ids)), n, "distinct ids")
    for x in ids:
        sub.send(gen_pubrec(x))
    for x in ids:
        expect_ack(sub, PUBREL, x)  # decoder checks flags 0x62
    for x in ids:
        sub.send(gen_pubcomp(x))
    sub.expect_nothing("a packet after PUBCOMP", via=pub, topic="q2/ids")
    sub.disconnect()
    pub.disconnect()


@case()
def order_preserved(srv):
    sub, pub = _pair(srv, "order", topic="q2/order")
    n = 100
    for i in range(n):
        pub.publish("q2/order", b"%d" % i, qos=2, packet_id=(i % 50) + 1)
    for i in range(n):
        sub.expect_publish("q2/order", b"%d" % i, qos=2, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def mixed_qos_fan_out(srv):
    subs = []
    for q in (0, 1, 2):
        for v in (5, 4):
            c = connect(srv.port, "c05-mix%d%d" % (q, v), version=v)
            c.subscribe("q2/mix", q)
            subs.append((q, c))
    pub = connect(srv.port, "c05-mixpub")
    pub.publish("q2/mix", b"all", qos=2, packet_id=1)
    for q, c in subs:
        c.expect_publish("q2/mix", b"all", qos=q, ack=True)
        c.disconnect()
    pub.disconnect()


if __name__ == "__main__":
    run_cases()
