#!/usr/bin/python3
"""QoS 1 publish: PUBACK, end to end, downgrade, packet ids, order."""

from mqtt_test import *  # noqa: F401,F403


def _pair(srv, tag, sub_version=5, pub_version=5, topic="q1/t", qos=1):
    sub = connect(srv.port, "c04-sub-" + tag, version=sub_version)
    sub.subscribe(topic, qos)
    pub = connect(srv.port, "c04-pub-" + tag, version=pub_version)
    return sub, pub


@case()
def v311_puback_bytes(srv):
    sub, pub = _pair(srv, "b", 4, 4, topic="q1/b")
    pub.send(gen_publish("q1/b", 1, b"x", packet_id=0x0102, version=4))
    expect_packet(pub, "puback", b"\x40\x02\x01\x02")
    sub.expect_publish("q1/b", b"x", qos=1, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def v5_puback_success(srv):
    sub, pub = _pair(srv, "b5", topic="q1/b5")
    pub.send(gen_publish("q1/b5", 1, b"x", packet_id=77))
    expect_ack(pub, PUBACK, 77, 0)
    sub.expect_publish("q1/b5", b"x", qos=1, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def v5_puback_no_matching_subscribers(srv):
    # 0x10 "no matching subscribers" is optional; 0x00 is also right.
    pub = connect(srv.port, "c04-nosub")
    pub.send(gen_publish("q1/nobody", 1, b"x", packet_id=3))
    p = pub.recv()
    check_packet(p, PUBACK, packet_id=3)
    check(p.reason_code in (0x00, 0x10), "reason 0x00 or 0x10: %r" % p)
    pub.disconnect()


@case()
def end_to_end_all_versions(srv):
    for sv in (5, 4):
        for pv in (5, 4):
            tag = "%d%d" % (sv, pv)
            sub, pub = _pair(srv, tag, sv, pv, topic="q1/" + tag)
            pub.publish("q1/" + tag, b"m" + tag.encode(), qos=1, packet_id=9)
            p = sub.expect_publish("q1/" + tag, b"m" + tag.encode(), qos=1, dup=False, retain=False)
            check(p.packet_id, "packet id set")
            sub.send(gen_puback(p.packet_id, version=sv))
            sub.expect_nothing("a redelivery after PUBACK", via=pub, topic="q1/" + tag)
            sub.disconnect()
            pub.disconnect()


@case()
def downgrade_to_subscription_qos(srv):
    sub, pub = _pair(srv, "down", topic="q1/down", qos=0)
    pub.publish("q1/down", b"d", qos=1)
    p = sub.expect_publish("q1/down", b"d", qos=0)
    check_eq(p.packet_id, None, "no packet id")
    sub.disconnect()
    pub.disconnect()


@case()
def qos1_on_qos2_subscription_stays_qos1(srv):
    sub, pub = _pair(srv, "up", topic="q1/up", qos=2)
    pub.publish("q1/up", b"u", qos=1)
    sub.expect_publish("q1/up", b"u", qos=1, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def unacked_packet_ids_unique(srv):
    sub, pub = _pair(srv, "ids", topic="q1/ids")
    n = 10
    for i in range(n):
        pub.publish("q1/ids", b"%d" % i, qos=1, packet_id=i + 1)
    ids = []
    for i in range(n):
        p = sub.expect_publish("q1/ids", b"%d" % i, qos=1)
        ids.append(p.packet_id)
    check_eq(len(set(ids)), n, "distinct packet ids in flight %s" % ids)
    check(all(0 < x <= 0xFFFF for x in ids), "valid ids")
    for x in ids:
        sub.send(gen_puback(x))
    sub.expect_nothing("a redelivery after PUBACK", via=pub, topic="q1/ids")
    sub.disconnect()
    pub.disconnect()


@case()
def order_preserved(srv):
    sub, pub = _pair(srv, "order", topic="q1/order")
    n = 200
    for i in range(n):
        pub.send(gen_publish("q1/order", 1, b"%d" % i, packet_id=(i % 100) + 1))
        if i % 100 == 99:
            for j in range(100):
                expect_ack(pub, PUBACK, j + 1)
    for i in range(n):
        sub.expect_publish("q1/order", b"%d" % i, qos=1, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def packet_id_reuse_after_ack(srv):
    sub, pub = _pair(srv, "reuse", topic="q1/reuse")
    for i in range(5):
        pub.publish("q1/reuse", b"%d" % i, qos=1, packet_id=1)
        sub.expect_publish("q1/reuse", b"%d" % i, qos=1, ack=True)
    sub.disconnect()
    pub.disconnect()


@case()
def overlapping_subscriptions_max_qos(srv):
    # One or two copies are allowed [MQTT-3.3.4-2]; a single copy carries the
    # maximum QoS of the matching subscriptions.
    sub = connect(srv.port, "c04-ovl")
    sub.subscribe([("q1/ovl/#", sub_options(0)), ("q1/ovl/x", sub_options(1))], codes=[0, 1])
    pub = connect(srv.port, "c04-ovl-pub")
    pub.publish("q1/ovl/x", b"o", qos=1)
    got = [sub.expect_publish("q1/ovl/x", b"o", ack=True)]
    # A second copy comes before a marker on the same topic.
    for extra in sub.until_marker(via=pub, topic="q1/ovl/x"):
        check_packet(extra, PUBLISH, topic="q1/ovl/x", payload=b"o")
        got.append(extra)
        sub.ack(extra)
    check(len(got) <= 2, "at most one copy per subscription: %r" % got)
    check(max(p.qos for p in got) == 1, "a copy at QoS 1: %r" % got)
    sub.disconnect()
    pub.disconnect()


@case()
def no_resend_while_connected(srv):
    # [MQTT-4.4.0-1]: an unacknowledged PUBLISH is resent only on reconnect
    # with a session, never while the connection lasts.
    sub, pub = _pair(srv, "noresend", topic="q1/noresend")
    pub.publish("q1/noresend", b"once", qos=1)
    p = sub.expect_publish("q1/noresend", b"once", qos=1)
    # Time, not routing: a retransmission would come after some timeout.
    sub.expect_quiet(2.0, "a retransmission on a live connection")
    sub.send(gen_puback(p.packet_id))
    sub.disconnect()
    pub.disconnect()


@case()
def publisher_dup_resend_acknowledged(srv):
    # A publisher resending a QoS 1 message with DUP=1 gets a PUBACK again
    # (QoS 1 is at least once: a second delivery is allowed).
    sub, pub = _pair(srv, "dup", topic="q1/dup")
    pub.send(gen_publish("q1/dup", 1, b"d", packet_id=8))
    pub.send(gen_publish("q1/dup", 1, b"d", packet_id=8, dup=True))
    expect_ack(pub, PUBACK, 8)
    expect_ack(pub, PUBACK, 8)
    p = sub.expect_publish("q1/dup", b"d", qos=1, ack=True)
    check(p.packet_id, "packet id")
    extra = sub.until_marker(via=pub, topic="q1/dup")
    check(len(extra) <= 1, "at most the one duplicate: %r" % extra)
    for e in extra:
        check_packet(e, PUBLISH, topic="q1/dup", payload=b"d")
        sub.ack(e)
    sub.disconnect()
    pub.disconnect()


if __name__ == "__main__":
    run_cases()
