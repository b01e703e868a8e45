#!/usr/bin/python3
"""QoS 2 publish: PUBREC/PUBREL/PUBCOMP both ways, exactly once, downgrade."""

import time

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


def _deliveries(conn, quiet=0.5, limit=10.0):
    """Every PUBLISH until conn is quiet for `quiet` s, acknowledged."""
    got = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        p = conn.poll(quiet)
        if p is None:
            break
        check_packet(p, PUBLISH)
        got.append(p)
        conn.ack(p)
    return got


def _persistent_pub(srv, cid, version, session_present):
    if version == 5:
        return connect(srv.port, cid, clean_start=False, session_present=session_present,
                       properties={"session_expiry_interval": 60})
    return connect(srv.port, cid, version=4, clean_start=False,
                   session_present=session_present)


# 4.3.3 and 4.4: a publisher whose connection broke after PUBREC, before it
# sent PUBREL, reconnects to its session and resends the PUBLISH with DUP=1
# and the same packet id [MQTT-4.4.0-1] (its PUBREC may have been lost). The
# server keeps the packet id of an inbound QoS 2 message in the session
# until PUBREL: it answers PUBREC again and must not deliver the message a
# second time [MQTT-4.3.3-10 (3.1.1: 4.3.3, method B)]. The subscribers,
# one at QoS 2 and one at QoS 1 (each copy is a separate PUBLISH there),
# get exactly one copy each. Three times: after one reconnect, after two,
# and after a reconnect that takes over the old connection (still open:
# the server closes it, [MQTT-3.1.4-3]) instead of following its loss.
@case()
def publisher_dup_resend_after_reconnect_delivered_once(srv):
    for v in (5, 4):
        t = "q2/redup%d" % v
        s2 = connect(srv.port, "c05-redup-s2-%d" % v)
        s2.subscribe(t, 2)
        s1 = connect(srv.port, "c05-redup-s1-%d" % v, version=4)
        s1.subscribe(t, 1)
        cid = "c05-redup-pub%d" % v
        pub = _persistent_pub(srv, cid, v, None)
        for reconnects, takeover in ((1, False), (2, False), (1, True)):
            body = b"once-%d%s" % (reconnects, b"t" if takeover else b"")
            pub.send(gen_publish(t, 2, body, packet_id=21, version=v))
            expect_ack(pub, PUBREC, 21, (0x00, 0x10))
            for _ in range(reconnects):
                old = pub
                if not takeover:
                    old.abort()  # no PUBREL
                pub = _persistent_pub(srv, cid, v, True)
                if takeover:
                    old.expect_closed()
                pub.send(gen_publish(t, 2, body, packet_id=21, dup=True, version=v))
                expect_ack(pub, PUBREC, 21, (0x00, 0x10))
            pub.send(gen_pubrel(21, version=v))
            expect_ack(pub, PUBCOMP, 21)
            for sub, qos in ((s2, 2), (s1, 1)):
                got = _deliveries(sub)
                check_eq([(p.payload, p.qos) for p in got], [(body, qos)],
                         "deliveries at the QoS %d subscriber (v%d, %d reconnects)"
                         % (qos, v, reconnects))
        # The id is free again: a new message with it is a new message.
        pub.publish(t, b"next", qos=2, packet_id=21)
        check_eq([p.payload for p in _deliveries(s2)], [b"next"], "the next message")
        for c in (pub, s1, s2):
            c.disconnect()


def _resend_same_connection(srv, v, resends):
    t = "q2/samedup%d" % v
    s2 = connect(srv.port, "c05-samedup-s2-%d" % v)
    s2.subscribe(t, 2)
    s1 = connect(srv.port, "c05-samedup-s1-%d" % v, version=4)
    s1.subscribe(t, 1)
    pub = connect(srv.port, "c05-samedup-pub%d" % v, version=v)
    pub.send(gen_publish(t, 2, b"one", packet_id=9, version=v))
    expect_ack(pub, PUBREC, 9, (0x00, 0x10))
    for i in range(resends):
        pub.send(gen_publish(t, 2, b"one", packet_id=9, dup=True, version=v))
        try:
            expect_ack(pub, PUBREC, 9, (0x00, 0x10))
        except Closed:
            raise TestError("closed at resend %d instead of PUBREC" % (i + 1))
    pub.send(gen_pubrel(9, version=v))
    expect_ack(pub, PUBCOMP, 9)
    for sub, qos in ((s2, 2), (s1, 1)):
        check_eq([(p.payload, p.qos) for p in _deliveries(sub)], [(b"one", qos)],
                 "deliveries at the QoS %d subscriber (v%d)" % (qos, v))
    for c in (pub, s1, s2):
        c.disconnect()


# The same on one connection: until PUBREL the receiver answers any PUBLISH
# with the same packet id with PUBREC and does not deliver it again
# [MQTT-4.3.3-10]; a QoS 1 subscriber sees one copy, a QoS 2 one too. MQTT 5
# forbids resending other than on reconnect [MQTT-4.4.0-1], so the v5
# publisher resends once (as a client might that took its connection for
# lost).
@case()
def publisher_dup_resend_same_connection_delivered_once(srv):
    _resend_same_connection(srv, 5, 1)


# MQTT 3.1.1 (4.4) lets a client resend on the same connection: three
# resends, each answered with PUBREC, one delivery [MQTT-4.3.3-9 in 3.1.1].
# Mosquitto 2.0.11 answers the first resend but closes the connection as a
# protocol error at the second.
@case()
def v311_publisher_dup_resends_same_connection_delivered_once(srv):
    _resend_same_connection(srv, 4, 3)

if __name__ == "__main__":
    run_cases()
